import * as fs from 'node:fs';
import * as path from 'node:path';
import { ARTIFACT_CACHE } from '../artifacts/common';
import { goBinary, goBuildEnv } from '../go';
import { CACHE_DIR } from '../paths';
import { log, run } from '../process';

/**
 * The real Temporal pieces, built from their Go modules once (the machine's Go proxy settings; `go install
 * module/pkg@version`, so each module's own go.sum pins its dependencies) and cached by version:
 * - the server (`go.temporal.io/server/cmd/server`; v1.29 needs Go 1.25) and its SQL schema tool
 *   (`cmd/tools/sql`, which carries the PostgreSQL schemas embedded);
 * - the web UI server (`github.com/temporalio/ui-server/v2/cmd/server`, the UI's assets embedded), the release of
 *   the same season as the server.
 * docker-compose.yml runs the images of exactly these versions.
 */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
export const TEMPORAL_UI_VERSION = '2.41.0';

export interface TemporalBinaries {
  server: string;
  sqlTool: string;
  ui: string;
}

async function goInstall(name: string, packages: string[], outputs: Record<string, string>): Promise<void> {
  if (Object.values(outputs).every((o) => fs.existsSync(o))) return;
  const started = Date.now();
  log(`building ${name} from its Go module (several minutes, once)`);
  const gobin = path.join(CACHE_DIR, 'build', `gobin-${name}`);
  fs.rmSync(gobin, { recursive: true, force: true });
  fs.mkdirSync(gobin, { recursive: true });
  await run(goBinary(), ['install', '-trimpath', '-ldflags', '-s -w', ...packages], { env: goBuildEnv({ GOBIN: gobin }), cwd: gobin });
  for (const [built, target] of Object.entries(outputs)) fs.renameSync(path.join(gobin, built), target);
  fs.rmSync(gobin, { recursive: true, force: true });
  log(`built ${name} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

export async function temporalBinaries(): Promise<TemporalBinaries> {
  fs.mkdirSync(ARTIFACT_CACHE, { recursive: true });
  const bins: TemporalBinaries = {
    server: path.join(ARTIFACT_CACHE, `temporal-server-${TEMPORAL_SERVER_VERSION}-linux-amd64`),
    sqlTool: path.join(ARTIFACT_CACHE, `temporal-sql-tool-${TEMPORAL_SERVER_VERSION}-linux-amd64`),
    ui: path.join(ARTIFACT_CACHE, `temporal-ui-server-${TEMPORAL_UI_VERSION}-linux-amd64`),
  };
  // Both commands are named `server`: one GOBIN each.
  await goInstall(
    `temporal-server-${TEMPORAL_SERVER_VERSION}`,
    [`go.temporal.io/server/cmd/server@v${TEMPORAL_SERVER_VERSION}`, `go.temporal.io/server/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`],
    { server: bins.server, sql: bins.sqlTool },
  );
  await goInstall(`temporal-ui-server-${TEMPORAL_UI_VERSION}`, [`github.com/temporalio/ui-server/v2/cmd/server@v${TEMPORAL_UI_VERSION}`], { server: bins.ui });
  return bins;
}
