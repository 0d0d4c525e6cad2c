import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CACHE_DIR } from '../paths';
import { goBinary, goBuildEnv } from '../go';
import { log, run } from '../process';
import { ARTIFACT_CACHE } from './common';

export const DISTRIBUTION_VERSION = '2.8.3';

/**
 * distribution's `registry` binary built from its Go module at the seed's version, with the filesystem, s3 and azure
 * storage drivers. (gcs sits behind the `include_gcs` build tag, and its 2015 google.golang.org/cloud dependency no
 * longer compiles against the current Google API modules, so it is left out.) Two fixes make it build from the module proxy: rsc.io/letsencrypt, which the proxy no
 * longer serves, is replaced by a local package that refuses Let's Encrypt (the lab never uses it), and the
 * logstash hook is pinned to the version distribution was written against.
 */
const LETSENCRYPT_STANDIN = `// Package letsencrypt stands in for rsc.io/letsencrypt, which the Go module proxy no longer serves.
package letsencrypt

import (
	"crypto/tls"
	"errors"
)

var errUnavailable = errors.New("letsencrypt is not available in this build")

type Manager struct{}

func (m *Manager) CacheFile(string) error                       { return errUnavailable }
func (m *Manager) Registered() bool                             { return false }
func (m *Manager) Register(string, func(string) bool) error     { return errUnavailable }
func (m *Manager) SetHosts([]string)                            {}
func (m *Manager) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, errUnavailable }
`;

const MAIN = `package main

import (
	"github.com/docker/distribution/registry"
	_ "github.com/docker/distribution/registry/auth/htpasswd"
	_ "github.com/docker/distribution/registry/auth/silly"
	_ "github.com/docker/distribution/registry/auth/token"
	_ "github.com/docker/distribution/registry/storage/driver/azure"
	_ "github.com/docker/distribution/registry/storage/driver/filesystem"
	_ "github.com/docker/distribution/registry/storage/driver/inmemory"
	_ "github.com/docker/distribution/registry/storage/driver/s3-aws"
)

func main() { registry.RootCmd.Execute() }
`;

const GO_MOD = `module kk-lab/registry

go 1.22

require (
	github.com/docker/distribution v${DISTRIBUTION_VERSION}+incompatible
	rsc.io/letsencrypt v0.0.0
)

replace rsc.io/letsencrypt => ./letsencrypt
`;

export async function distributionBinary(): Promise<string> {
  // Keyed on the sources too: the official image's access controllers (htpasswd, token, silly) were added later.
  const key = createHash('sha256').update(MAIN).update(GO_MOD).update(LETSENCRYPT_STANDIN).digest('hex').slice(0, 12);
  const bin = path.join(ARTIFACT_CACHE, `registry-${DISTRIBUTION_VERSION}-${key}-linux-amd64`);
  if (fs.existsSync(bin)) return bin;
  log(`building distribution ${DISTRIBUTION_VERSION} from its Go module (a minute or two, once)`);
  // A directory and output of this process's own: two builds at once (a test beside `lab up`) must not share them.
  const src = path.join(CACHE_DIR, 'build', `distribution-${DISTRIBUTION_VERSION}-${process.pid}`);
  fs.rmSync(src, { recursive: true, force: true });
  fs.mkdirSync(path.join(src, 'letsencrypt'), { recursive: true });
  fs.writeFileSync(path.join(src, 'letsencrypt', 'letsencrypt.go'), LETSENCRYPT_STANDIN);
  fs.writeFileSync(path.join(src, 'letsencrypt', 'go.mod'), 'module rsc.io/letsencrypt\n\ngo 1.20\n');
  fs.writeFileSync(path.join(src, 'go.mod'), GO_MOD);
  fs.writeFileSync(path.join(src, 'main.go'), MAIN);
  const go = goBinary();
  const env = goBuildEnv();
  await run(go, ['mod', 'tidy'], { env, cwd: src });
  await run(go, ['get', 'github.com/bshuster-repo/logrus-logstash-hook@v0.4.1'], { env, cwd: src });
  await run(go, ['build', '-trimpath', '-ldflags', `-s -w -X github.com/docker/distribution/version.Version=v${DISTRIBUTION_VERSION}`, '-o', `${bin}.${process.pid}.tmp`, '.'], { env, cwd: src });
  fs.renameSync(`${bin}.${process.pid}.tmp`, bin);
  fs.rmSync(src, { recursive: true, force: true });
  return bin;
}
