/**
 * How kk recognises what it installed: the first line of every unit file it writes. A unit that merely has the
 * same name (harbor.service from another installer, a distribution's docker.service) is never taken for kk's.
 */
export const KK_UNIT_MARKER = '# managed by kk-registry: do not edit, kk rewrites it';
