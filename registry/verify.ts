/** The image every install pushes through the endpoint and pulls on every node; pure, shared by workflow and activity. */
export const VERIFY_PROJECT = 'kk-verify';
export const VERIFY_REPOSITORY = `${VERIFY_PROJECT}/probe`;
