#!/bin/bash
# The kk lab's Harbor STAND-IN (not real Harbor): installs like Harbor's install.sh — loads the images, runs prepare
# on harbor.yml, and starts the services with docker compose.
set -e
workdir="$( cd "$(dirname "${BASH_SOURCE[0]}")" && pwd )"
cd "$workdir"
source common.sh
note "Checking docker and docker compose"
check_docker
check_dockercompose
if [ ! -f harbor.yml ]; then
  error "harbor.yml not found: copy harbor.yml.tmpl to harbor.yml and edit it"
  exit 1
fi
note "Loading Harbor stand-in images"
docker load -i ./harbor.__VERSION__.tar.gz
note "Preparing environment"
./prepare
if [ -n "$($DOCKER_COMPOSE ps -q 2>/dev/null)" ]; then
  note "Stopping existing instance"
  $DOCKER_COMPOSE down -v
fi
note "Starting Harbor stand-in"
$DOCKER_COMPOSE up -d
success "----Harbor stand-in has been installed and started successfully.----"
