import { Context } from '@temporalio/activity';
import type { HostTarget } from '../../config/hosts';
import type { ImagePlan, ImagePushResult, PushProgress, PushTarget } from '../../registry/images/types';
import type { HarborNodeInput } from '../../registry/types';
import { withHeartbeat } from '../heartbeat';
import { nodeApi } from '../install/harbor';
import type { HostSession } from '../ssh/session';
import { imageBytes, pushImage } from './push';

type OnHost = <T>(host: HostTarget, step: (session: HostSession, progress: (offset: number, total: number) => void, signal: AbortSignal) => Promise<T>) => Promise<T>;

/** `kk artifact images --push`: one activity per image (from the machine running kk), and Harbor's projects. */
export function createImageActivities(onHost: OnHost) {
  return {
    /** One image from the layout into the registry; heartbeats carry its bytes. A retry sends only what is missing. */
    async pushImage(target: PushTarget, plan: ImagePlan): Promise<ImagePushResult> {
      let progress: PushProgress = { image: plan.source, offset: 0, total: imageBytes(plan.manifest) };
      return withHeartbeat(
        (signal) =>
          pushImage(target, plan, {
            signal,
            attempt: Context.current().info.attempt,
            onProgress: (offset, total) => (progress = { image: plan.source, offset, total }),
          }),
        () => progress,
        1000,
      );
    },

    /** Harbor takes pushes only into existing projects: each is created on this node (private unless asked). */
    async ensureImageProjects(input: HarborNodeInput, projects: string[], publicProjects: boolean): Promise<string[]> {
      return onHost(input.host, async (session, _p, signal) => {
        const api = nodeApi(session, input, { username: 'admin', password: input.harbor.adminPassword }, signal);
        const out: string[] = [];
        for (const p of projects) out.push(`${p} ${(await api.ensureProject(p, { public: publicProjects })).created ? 'created' : 'present'}`);
        return out;
      });
    },
  };
}
