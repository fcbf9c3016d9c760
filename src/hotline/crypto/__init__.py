"""Hotline's cryptography. PURE: no asyncio, no sockets, no I/O but identity key files.

This package is the only place that imports ``cryptography``.

* :mod:`.sframe` (+ :mod:`.sframe_header`, :mod:`.suites`, :mod:`.replay`): RFC 9605
* :mod:`.frames`: codec bytes kept clear on the wire, held frames
* :mod:`.identity`: Ed25519 device identities and their key files
* :mod:`.callkey`: per-call HPKE keys and signed announcements
* :mod:`.keymessage`: sender keys sealed to each recipient
* :mod:`.kid`: KID layout; :mod:`.groupcode`: the group verification code
* :mod:`.keyschedule`: the sans-I/O group key schedule; :mod:`.codecommit` and
  :mod:`.coderound`: the commit-then-reveal nonces of the group code
"""
