#!/bin/bash
# keepalived calls this on every state change with: GROUP|INSTANCE, its name, the new state. It writes to the log.
case "$3" in
  MASTER|BACKUP|FAULT) echo "keepalived: $1 $2 is now $3" > /proc/1/fd/1 ;;
  *) echo "keepalived: $1 $2 is in an unknown state: $3" > /proc/1/fd/1; exit 1 ;;
esac
