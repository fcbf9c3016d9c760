"""The hotline feature on the server: standing links between two parties.

* :mod:`.service`: the one object the signaling session hands every hotline message;
* :mod:`.standby`: standby endpoints and the pinned-key check of every action;
* :mod:`.calls`: real calls (ring, acknowledge, answer, hang up);
* :mod:`.linktests`: scheduled link tests and their verdicts;
* :mod:`.outcomes` (pure, no I/O): outcomes, states and uptime from figures and log entries;
* :mod:`.alarms`: alarms (log line, uptime entry, webhook);
* :mod:`.uptime`: the signed uptime record of each hotline;
* :mod:`.records`: the hotline tables of the store.
"""
