import type { Problems } from './errors';
import { formatPath, getPath, isPlainObject, parsePath, type PathSegment } from './paths';

/**
 * Checks values against the formats they are written into (unit files, keepalived.conf, fstab, YAML, shell
 * commands): a newline in a version would add a line to a unit, whitespace in a path would split an fstab field.
 * Problems name the path and never quote a value that may be a secret.
 */

/** Variables holding a path on a host or on the kk machine: absolute, without whitespace. */
export const PATH_VARIABLES = [
  'work_dir',
  'binary_dir',
  'image_registry.harbor.data_dir',
  'image_registry.docker_registry.storage.filesystem.rootdir',
  'image_registry.docker_registry.storage.filesystem.nfs_mount',
  'image_registry.docker_registry.storage.gcs.keyfile',
];

/** C0 and C1 controls, DEL, and the Unicode line and paragraph separators: each ends or corrupts a line somewhere. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
/** Where line breaks belong to the value (a PEM key), only the other controls are refused. */
const CONTROL_EXCEPT_LINE_BREAKS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029]/;

export interface ControlCheckOptions {
  /** Paths (formatted) whose values may span lines. */
  multiline?: (path: string) => boolean;
}

/** Reports every string anywhere in a tree (maps and lists walked, keys too) that holds a control character. */
export function checkControlCharacters(tree: unknown, prefix: PathSegment[], problems: Problems, options: ControlCheckOptions = {}): void {
  const visit = (node: unknown, at: PathSegment[]) => {
    const where = formatPath(at);
    if (typeof node === 'string') {
      const pattern = options.multiline?.(where) ? CONTROL_EXCEPT_LINE_BREAKS : CONTROL;
      const m = pattern.exec(node);
      if (m) problems.add(where, `contains a control character (U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}); values go into unit files, configs and commands, where it would end a line`);
    } else if (Array.isArray(node)) {
      node.forEach((v, i) => visit(v, [...at, i]));
    } else if (isPlainObject(node)) {
      for (const [key, value] of Object.entries(node)) {
        if (CONTROL.test(key)) problems.add(where || '(top level)', `a key contains a control character`);
        visit(value, [...at, key]);
      }
    }
  };
  visit(tree, prefix);
}

/** Path variables must be absolute and free of whitespace (they end up in fstab, unit files and mount commands). */
export function checkPaths(vars: unknown, problems: Problems): void {
  for (const p of PATH_VARIABLES) {
    const value = getPath(vars, parsePath(p));
    if (value === undefined || value === null || value === '') continue;
    // The schema reports a wrong type, the control-character check a newline.
    if (typeof value !== 'string' || CONTROL.test(value)) continue;
    if (!value.startsWith('/') || /\s/.test(value)) problems.add(p, `${JSON.stringify(value)} must be an absolute path without whitespace`);
  }
}
