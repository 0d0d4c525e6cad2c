#!/bin/bash -e
# The container's first start only (a marker in the state dir records it): /etc/keepalived/keepalived.conf becomes a
# link to this service's assets/keepalived.conf, whose {{ keepalived_* }} placeholders are filled from KEEPALIVED_*.
# Without --copy-service that is the file in /container/service itself, rewritten in place.
log-helper level eq trace && set -x
first_start_done="$CONTAINER_STATE_DIR/docker-keepalived-first-start-done"
if [ -e "$first_start_done" ]; then exit 0; fi

conf=/etc/keepalived/keepalived.conf
# ln -sf removes what is at that path first: a file bind-mounted there cannot be removed, so the start ends here.
ln -sf "$CONTAINER_SERVICE_DIR/keepalived/assets/keepalived.conf" "$conf"
target=$(readlink -f "$conf")

fill() { sed -i "s|{{ $1 }}|$2|g" "$target"; }
# A list: one entry per line where its placeholder stood. An entry that names a set variable stands for its value.
fill_list() {
  local lines='' entry
  for entry in $2; do
    if [[ $entry =~ ^[A-Za-z_][A-Za-z0-9_]*$ && -n "${!entry}" ]]; then entry=${!entry}; fi
    lines+="$entry\n    "
  done
  sed -i "s|{{ $1 }}|$lines{{ $1 }}|g" "$target"
  sed -i "/{{ $1 }}/d" "$target"
}

fill keepalived_interface "$KEEPALIVED_INTERFACE"
fill keepalived_priority "$KEEPALIVED_PRIORITY"
fill keepalived_password "$KEEPALIVED_PASSWORD"
if [ -n "$KEEPALIVED_NOTIFY" ]; then
  fill keepalived_notify "notify \"$KEEPALIVED_NOTIFY\""
  chmod +x "$KEEPALIVED_NOTIFY"
else
  sed -i "/{{ keepalived_notify }}/d" "$target"
fi
fill_list keepalived_unicast_peers "$KEEPALIVED_UNICAST_PEERS"
fill_list keepalived_virtual_ips "$KEEPALIVED_VIRTUAL_IPS"

touch "$first_start_done"
