#!/bin/bash -e
# keepalived in the foreground, logging to the console, with whatever /etc/keepalived/keepalived.conf points at.
log-helper level eq trace && set -x
exec /usr/local/sbin/keepalived -f /etc/keepalived/keepalived.conf --dont-fork --log-console -D -d
