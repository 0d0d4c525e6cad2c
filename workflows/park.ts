import { allHandlersFinished, ApplicationFailure, condition, isCancellation, setHandler, upsertMemo } from '@temporalio/workflow';
import { fixFor } from '../precheck/fixes';
import { rootCause } from './failures';
import { fixHostUpdate, parkedQuery, type HostFix, type ParkedHost } from './messages';

/**
 * Park-and-fix for one host's workflow. A step that failed for good (a non-retryable failure, or retries used up)
 * does not fail the host: the workflow records why (memo `parked`, so `kk status` reads it with no worker; the
 * `parked` query) and waits, holding no worker slot and running no activity, until `kk resume` sends a fix through
 * the `fixHost` update. The step then runs again with the corrected data, or the host's work ends on `abort`.
 */
export class Parking {
  private parked?: ParkedHost;
  private fix?: HostFix;
  private outcome?: string;

  /** `validate` refuses a fix that would change what is installed (it throws, naming the difference). */
  constructor(
    private readonly host: string,
    private readonly apply: (fix: HostFix) => void,
    validate: (fix: HostFix) => void = () => undefined,
  ) {
    setHandler(parkedQuery, () => this.parked);
    setHandler(
      fixHostUpdate,
      async (fix) => {
        this.fix = fix;
        this.outcome = undefined;
        // Answers once the step ran again: it went through, parked anew, or the host's work ended.
        await condition(() => this.outcome !== undefined);
        return this.outcome!;
      },
      {
        validator: (fix) => {
          if (!this.parked || this.fix) throw new Error(`${this.host} is not waiting for a fix`);
          validate(fix);
        },
      },
    );
  }

  get waiting(): ParkedHost | undefined {
    return this.parked;
  }

  async step<T>(name: string, run: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        const value = await run();
        if (this.fix) this.settle(`${this.host}: ${name} went through`);
        return value;
      } catch (err) {
        if (isCancellation(err)) throw err;
        const cause = rootCause(err);
        if (this.fix) this.settle(`${this.host}: ${name} failed again: ${cause.type}: ${cause.message}`);
        this.parked = { host: this.host, step: name, type: cause.type, message: cause.message, fix: fixFor(cause.type, this.host), since: new Date().toISOString() };
        upsertMemo({ parked: this.parked });
        await condition(() => this.fix !== undefined);
        const fix = this.fix!;
        this.parked = undefined;
        upsertMemo({ parked: null });
        if (fix.abort) {
          this.settle(`${this.host}: aborted at ${name}`);
          // Let the update answer before the workflow fails, so `kk resume --abort` hears the outcome, not an error.
          await condition(allHandlersFinished);
          throw ApplicationFailure.create({ type: 'Aborted', message: `${this.host}: aborted at ${name} (${cause.type}: ${cause.message})`, nonRetryable: true });
        }
        this.apply(fix);
      }
    }
  }

  private settle(outcome: string): void {
    this.outcome = outcome;
    this.fix = undefined;
  }
}
