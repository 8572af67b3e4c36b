"""Operating-system integration: systemd watchdog (sd_notify), display power, device facts.

Nothing in here imports Qt. Display power commands and device reads may block for a short
while (subprocess with timeout, /proc and /sys reads): call them from a worker thread, never
from the GUI thread. Only ``SdNotifier.watchdog()`` is meant to be called from the GUI thread
(it is a single non-blocking datagram send), so that a frozen GUI stops the pings.
"""
