import type { HarborNodeInput } from '../types';

/** Types of `kk artifact images --push`, shared by the CLI, the workflow and the activities (no Node built-ins). */

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

export const INDEX_TYPES: readonly string[] = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList];
export const MANIFEST_TYPES: readonly string[] = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest];

export interface BlobRef {
  digest: string;
  size: number;
}

/** A manifest as found in the layout: its file, the blobs it names (config and layers), an index's child manifests. */
export interface ManifestPlan {
  digest: string;
  mediaType: string;
  size: number;
  /** Absolute path of the manifest's bytes on the machine that reads the layout. */
  file: string;
  blobs: BlobRef[];
  children?: ManifestPlan[];
  /** `linux/amd64` for an index's child. */
  platform?: string;
}

/** One image of the layout and where it goes. */
export interface ImagePlan {
  /** The name in the layout, normalised as KubeKey does: `registry.k8s.io/pause:3.9`. */
  source: string;
  /** Repository in the target registry: `kubernetes/pause`. */
  repository: string;
  tag: string;
  manifest: ManifestPlan;
  /** `<binary_dir>/images`, where the blobs are read (on the machine running kk). */
  imagesDir: string;
  /** Blob digest → another repository of this push that holds it too (cross-repository mount when it is there). */
  mountFrom?: Record<string, string>;
}

/** How the machine running kk reaches the registry. */
export interface PushTarget {
  /** `host[:port]` as in image names: the endpoint (the VIP in HA). */
  address: string;
  scheme: 'http' | 'https';
  /** Where to connect: the endpoint's address, or for a name the VIP / first registry host (what /etc/hosts maps it to). */
  connectHost: string;
  port: number;
  /** TLS name to verify (the endpoint's host). */
  servername: string;
  /** kk's CA (pki/root.crt), the only trust anchor. */
  caCert: string;
  credentials?: { username: string; password: string };
  /** Where interrupted blob uploads are remembered (on the machine running kk), so a retry continues them. */
  journalDir: string;
}

export interface PushImagesInput {
  registryType: 'harbor' | 'docker-registry';
  target: PushTarget;
  images: ImagePlan[];
  /** Harbor: projects to ensure on every node before the push, private unless `publicProjects`. */
  harbor?: { nodes: HarborNodeInput[]; projects: string[]; publicProjects: boolean };
  /** Images pushed at once (each one activity). */
  concurrency: number;
}

export interface ImagePushResult {
  image: string;
  /** `<endpoint>/<repository>:<tag>` */
  target: string;
  digest: string;
  blobs: { total: number; sent: number; skipped: number; mounted: number };
  bytes: { total: number; sent: number };
  manifests: { sent: number; skipped: number };
  /** An interrupted upload continued at this offset (bytes the registry already had). */
  resumed?: { digest: string; offset: number }[];
  attempt: number;
}

export interface PushImagesReport {
  endpoint: string;
  projects?: Record<string, string[]>;
  images: ImagePushResult[];
  /** Harbor HA: nodes whose own Harbor holds every image (replication). */
  replicatedTo?: string[];
}

/** Heartbeat details of a push under way: the progress display reads them. */
export interface PushProgress {
  image: string;
  offset: number;
  total: number;
}
