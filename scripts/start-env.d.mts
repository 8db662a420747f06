export function startEnvironment(env: Record<string, string | undefined>): {
  env: Record<string, string | undefined>;
  debug: boolean;
  lines: string[];
};
