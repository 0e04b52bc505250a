/**
 * The lab API's paths (the routes are listed in lab-api-protocol.ts), built
 * in one place for the server's tests and the page. No zod here: the lab
 * page's first script imports this, and stays small.
 */
export const labApiPath = {
  labs: () => "api/labs",
  progress: () => "api/progress",
  environment: (lab: string) => `api/labs/${encodeURIComponent(lab)}/environment`,
  reset: (lab: string) => `api/labs/${encodeURIComponent(lab)}/environment/reset`,
  checkpoint: (lab: string, checkpoint: string, action: "check" | "solve" | "catch-up") =>
    `api/labs/${encodeURIComponent(lab)}/checkpoints/${encodeURIComponent(checkpoint)}/${action}`,
};
