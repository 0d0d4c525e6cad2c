/** What `kk facts` gathers on each host (activities/facts/gather.ts); also the input of precheck and install decisions. */
export interface HostFacts {
  hostname: string;
  os: { id: string; idLike: string[]; versionId: string; prettyName: string; family: 'deb' | 'rpm' | 'unknown' };
  kernel: string;
  /** `uname -m` as the host says it. */
  machine: string;
  /** KubeKey's binary_type: amd64 or arm64, null when unsupported. */
  arch: 'amd64' | 'arm64' | null;
  cpus: number;
  memoryMb: number;
  filesystems: { mount: string; device: string; fsType: string; sizeMb: number; freeMb: number }[];
  interfaces: { name: string; cidrs: string[] }[];
  /** `docker --version` as KubeKey detects it; `managedByKk` when kk's marker heads docker.service (kk installed it). */
  docker: { version: string; active: boolean; path: string; managedByKk: boolean } | null;
  dockerCompose: { version: string } | null;
  /** Registry units present (loaded), whoever installed them. */
  services: { harbor: boolean; dockerRegistry: boolean };
  /** The same units, when kk installed them (its marker heads the unit file). */
  servicesByKk: { harbor: boolean; dockerRegistry: boolean };
  /** Host clock, seconds since the epoch, for skew checks. */
  clock: number;
}
