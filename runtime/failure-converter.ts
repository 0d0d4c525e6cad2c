import { DefaultFailureConverter } from '@temporalio/common';

/** Error messages and stack traces go through the payload codec too (they can quote commands and hosts). */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
