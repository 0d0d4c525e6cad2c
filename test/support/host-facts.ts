import type { HostFacts } from '../../precheck/host-facts';
import type { HostProbe, PrecheckInput } from '../../precheck/types';

/** A plain Debian amd64 host with nothing installed, for precheck's verdicts; `over` changes what a test is about. */
export function hostFacts(over: Partial<HostFacts> = {}): HostFacts {
  return {
    hostname: 'h',
    os: { id: 'debian', idLike: [], versionId: '12', prettyName: 'Debian', family: 'deb' },
    kernel: '6',
    machine: 'x86_64',
    arch: 'amd64',
    cpus: 2,
    memoryMb: 4096,
    filesystems: [{ mount: '/', device: 'd', fsType: 'ext4', sizeMb: 100_000, freeMb: 100_000 }],
    interfaces: [],
    docker: null,
    dockerCompose: null,
    services: { harbor: false, dockerRegistry: false },
    servicesByKk: { harbor: false, dockerRegistry: false },
    clock: 0,
    ...over,
  };
}

/** What precheck's probe found on such a host: nothing listening, no peer probed, an NFS client. */
export function hostProbe(facts: HostFacts, over: Partial<HostProbe> = {}): HostProbe {
  return { facts, clockOffsetSeconds: 0, listening: [], portHolders: {}, reach: {}, deployedCa: {}, nfsClient: true, ...over };
}

/** Precheck's input for one docker-registry host `r1` with no thresholds to meet; `over` sets what a test is about. */
export function precheckInputFor(over: Partial<PrecheckInput> = {}): PrecheckInput {
  return {
    hosts: [],
    rotateCa: false,
    registryHosts: ['r1'],
    controlPlaneHosts: [],
    nfsHosts: [],
    type: 'docker-registry',
    versions: { docker: '24.0.7', docker_compose: 'v2.20.3' },
    registryPorts: [443],
    storage: { driver: 'filesystem', missingFields: [], drivers: [] },
    thresholds: { minMemoryMb: 0, minControlPlaneCpus: 0, minDataDiskGb: 0, maxClockSkewSeconds: 5 },
    artifactsByArch: {},
    artifactErrors: {},
    ...over,
  };
}
