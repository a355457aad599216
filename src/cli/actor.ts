import { userInfo } from 'node:os'

/** Who is acting: --actor, REKEY_ACTOR, the CI's actor variable, else the OS user. */
export function resolveActor(flag: string | undefined, env: Record<string, string | undefined>): string {
  const candidates = [flag, env.REKEY_ACTOR, env.GITHUB_ACTOR, env.GITLAB_USER_LOGIN, env.BUILDKITE_BUILD_CREATOR, env.CIRCLE_USERNAME, env.BITBUCKET_STEP_TRIGGERER_UUID]
  for (const c of candidates) if (c !== undefined && c.trim() !== '') return c.trim()
  try {
    return userInfo().username || 'unknown'
  } catch {
    return 'unknown'
  }
}
