import * as fs from 'node:fs';
import * as path from 'node:path';
import { CACHE_DIR } from '../paths';
import { goBinary, goBuildEnv } from '../go';
import { log, run } from '../process';
import { ARTIFACT_CACHE, placeArtifact } from './common';

export const COMPOSE_VERSION = 'v2.20.3';
const MODULE = 'github.com/docker/compose/v2';

/**
 * docker-compose v2 built from its Go module at the seed's version. `go install` refuses the module (its go.mod has
 * replace directives), so the module is downloaded and built in place, as its own main module.
 */
export async function composeBinary(): Promise<{ version: string }> {
  const cached = path.join(ARTIFACT_CACHE, `docker-compose-${COMPOSE_VERSION}-linux-amd64`);
  if (!fs.existsSync(cached)) {
    const go = goBinary();
    const env = goBuildEnv();
    log(`building docker-compose ${COMPOSE_VERSION} from its Go module (a few minutes, once)`);
    const info = JSON.parse(await run(go, ['mod', 'download', '-json', `${MODULE}@${COMPOSE_VERSION}`], { env })) as { Dir: string };
    const src = path.join(CACHE_DIR, 'build', `compose-${COMPOSE_VERSION}`);
    fs.rmSync(src, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(src), { recursive: true });
    fs.cpSync(info.Dir, src, { recursive: true });
    await run('chmod', ['-R', 'u+w', src]);
    await run(go, ['build', '-trimpath', '-ldflags', `-s -w -X ${MODULE}/internal.Version=${COMPOSE_VERSION}`, '-o', `${cached}.tmp`, './cmd'], { env, cwd: src });
    fs.renameSync(`${cached}.tmp`, cached);
    fs.rmSync(src, { recursive: true, force: true });
  }
  placeArtifact(cached, `image-registry/docker-compose/${COMPOSE_VERSION}/amd64/docker-compose`);
  return { version: COMPOSE_VERSION };
}
