"""The client side of hotlines: a standing link between two parties, tested by itself.

* :mod:`.standby`: a :class:`~.standby.Standby` endpoint stays registered for a hotline,
  answers link tests, rings on calls and checks the uptime record it co-signs;
* :mod:`.linktest`: one end of a link test (synthetic media, measured figures);
* :mod:`.caller`: :class:`~.caller.HotlineCaller` places a real call on a hotline;
* :mod:`.recordhead`: the uptime-record heads a standby knows, kept beside its identity.

The calls themselves are ordinary E2EE calls (:mod:`hotline.client.call`) over
:mod:`hotline.client.signaling`, with the hotline's strict pins as the trust policy
(:meth:`hotline.client.trustpolicy.TrustPolicy.for_hotline`). The wire messages are in
:mod:`hotline.signaling.messages`; the server side is :mod:`hotline.server`.
"""
