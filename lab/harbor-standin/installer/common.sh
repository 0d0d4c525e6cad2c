#!/bin/bash
# Helpers of the kk lab's Harbor stand-in installer (the layout and checks of Harbor's own common.sh).
set +e
note() { printf '\n[Step] %s\n' "$*"; }
warn() { printf 'WARN: %s\n' "$*" >&2; }
error() { printf 'ERROR: %s\n' "$*" >&2; }
success() { printf '✔ %s\n' "$*"; }

check_docker() {
  if ! docker --version >/dev/null 2>&1; then
    error "Need to install docker(20.10.10+) first and run this script again."
    exit 1
  fi
}

check_dockercompose() {
  if docker compose version >/dev/null 2>&1; then
    DOCKER_COMPOSE="docker compose"
  elif docker-compose version >/dev/null 2>&1; then
    DOCKER_COMPOSE="docker-compose"
  else
    error "Need to install docker-compose(1.18.0+) or the docker compose plugin first and run this script again."
    exit 1
  fi
}
set -e
