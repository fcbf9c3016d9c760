"""Hotline's word list for reading group codes aloud: 256 words, one per byte value.

Written for this project: common, concrete English words of 3-8 letters, no two
alike in sound, sorted so that byte value ``b`` reads as ``WORDS[b]``.
The browser client ships the same list (docs/PROTOCOL.md, "Group code").
"""

WORDS: tuple[str, ...] = (
    "acorn", "actor", "adobe", "agent", "album", "alley", "amber", "anchor", "angle", "apple",
    "apron", "arch", "arena", "arrow", "atlas", "attic", "autumn", "avenue", "badge", "bagel",
    "baker", "balcony", "bamboo", "banjo", "barn", "basil", "basket", "beacon", "beaver",
    "bench", "berry", "bishop", "blanket", "blossom", "border", "bottle", "bracket", "bridge",
    "brook", "bucket", "buffalo", "bugle", "cabin", "cactus", "camel", "canal", "candle",
    "canoe", "canvas", "canyon", "carpet", "castle", "cedar", "cello", "chalk", "cherry",
    "chess", "chimney", "cider", "circus", "citrus", "clover", "cobalt", "comet", "compass",
    "copper", "coral", "cotton", "cradle", "crayon", "cricket", "crystal", "dagger", "daisy",
    "delta", "desert", "diamond", "dolphin", "donkey", "dragon", "drum", "eagle", "easel",
    "echo", "elbow", "ember", "engine", "falcon", "feather", "fennel", "ferry", "fiddle",
    "flute", "forest", "fossil", "fountain", "fox", "frost", "galaxy", "garden", "garlic",
    "gazelle", "geyser", "giant", "ginger", "glacier", "globe", "goblet", "granite", "grape",
    "gravel", "guitar", "hammer", "harbor", "harvest", "hazel", "helmet", "heron", "honey",
    "horizon", "husky", "igloo", "indigo", "island", "ivory", "jacket", "jaguar", "jasmine",
    "jelly", "jigsaw", "jungle", "kayak", "kettle", "kiwi", "koala", "ladder", "lagoon",
    "lantern", "laser", "lemon", "lentil", "lilac", "linen", "lizard", "lobster", "locket",
    "lotus", "magnet", "mango", "maple", "marble", "meadow", "melon", "meteor", "mirror",
    "mitten", "mosaic", "muffin", "mustard", "napkin", "nectar", "needle", "nickel", "noodle",
    "nutmeg", "oasis", "ocean", "olive", "onion", "opal", "orbit", "orchid", "otter", "oyster",
    "paddle", "palace", "panda", "pebble", "pelican", "pepper", "piano", "pigeon", "pillow",
    "pilot", "planet", "plaza", "pocket", "polar", "poppy", "potato", "prism", "pumpkin",
    "puzzle", "quartz", "quiver", "rabbit", "radar", "raven", "record", "ribbon", "river",
    "robin", "rocket", "saddle", "salmon", "saturn", "scarf", "shadow", "shovel", "signal",
    "silver", "skater", "sketch", "sleigh", "spider", "spinach", "sponge", "squash", "squirrel",
    "stamp", "summit", "sunset", "swan", "tablet", "tango", "teapot", "temple", "thistle",
    "thunder", "tiger", "timber", "toast", "tomato", "topaz", "torch", "trumpet", "tulip",
    "tundra", "turtle", "umbrella", "unicorn", "valley", "velvet", "violin", "volcano",
    "waffle", "wagon", "walnut", "walrus", "window", "winter", "wizard", "yacht", "yogurt",
    "zebra", "zigzag",
)

assert len(WORDS) == 256 and len(set(WORDS)) == 256
