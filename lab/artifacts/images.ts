import * as fs from 'node:fs';
import * as path from 'node:path';
import { LAB_BINARY_DIR } from '../paths';
import { log } from '../process';
import { ARTIFACT_CACHE, contentKey } from './common';
import { labImageSpecs, writeImageLayout } from './image-layout';

/** Version of the lab's image set: change it (or the specs) and the layout is rebuilt. */
const IMAGES_VERSION = 1;

/**
 * The lab's `<binary_dir>/images` in KubeKey's layout, built once into the cache (keyed by the specs' content) and
 * hard-linked into place; files of an older set are removed, so the layout holds exactly the lab's images.
 */
export async function imageLayout(): Promise<{ images: string[] }> {
  const specs = labImageSpecs();
  const key = contentKey([IMAGES_VERSION, specs.map((s) => [s.name, s.platforms.map((p) => [p.arch, p.layers.map((l) => Object.entries(l).map(([f, b]) => [f, b.length, b.subarray(0, 64).toString('hex')]))])])]);
  const cached = path.join(ARTIFACT_CACHE, `images-${key}`);
  if (!fs.existsSync(cached)) {
    log('building the lab image layout');
    fs.rmSync(`${cached}.tmp`, { recursive: true, force: true });
    writeImageLayout(`${cached}.tmp`, specs);
    fs.renameSync(`${cached}.tmp`, cached);
  }
  const target = path.join(LAB_BINARY_DIR, 'images');
  const wanted = new Set(fs.readdirSync(cached, { recursive: true }).map(String).filter((f) => fs.statSync(path.join(cached, f)).isFile()));
  if (fs.existsSync(target)) {
    for (const f of fs.readdirSync(target, { recursive: true }).map(String)) {
      const p = path.join(target, f);
      if (fs.existsSync(p) && fs.statSync(p).isFile() && !wanted.has(f)) fs.rmSync(p);
    }
  }
  for (const f of wanted) {
    const dest = path.join(target, f);
    const src = path.join(cached, f);
    if (fs.existsSync(dest) && fs.statSync(dest).ino === fs.statSync(src).ino) continue;
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.rmSync(dest, { force: true });
    try {
      fs.linkSync(src, dest);
    } catch {
      fs.copyFileSync(src, dest);
    }
  }
  return { images: specs.map((s) => s.name) };
}
