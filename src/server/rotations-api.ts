import type { RotationProject } from '../cli/commands/rotation-compose.js'
import type { RotationRun } from '../core/rotation/rotation-state.js'
import type { RotationsApi } from './deps.js'

/** A run without its sealed values. */
function publicRun(run: RotationRun): Omit<RotationRun, 'sealed'> {
  const { sealed: _sealed, ...rest } = run
  return rest
}

/**
 * The rotation engine's operations over HTTP: the same engine `rekey rotate`, `rekey rollback`
 * and `rekey status` run (composed by the rotation project from --config), so a run started
 * through the API is the same durable state machine, with the same one-run-per-secret lock.
 */
export function createRotationsApi(project: RotationProject): RotationsApi {
  return {
    async list() {
      const out = []
      for (const p of project.config.policies) {
        const s = await project.journal.getState(p.name)
        const run = s?.active_run ? await project.journal.getRun(s.active_run) : undefined
        out.push({
          secret: p.name,
          provider: p.provider,
          targets: p.targets,
          state: run ? run.state : 'idle',
          run: run?.id ?? null,
          last_rotated_at: s?.last_rotated_at ?? null,
          last_result: s?.last_result ?? null,
          last_run: s?.last_run ?? null,
        })
      }
      return out
    },
    async status(name) {
      const p = project.policy(name)
      const state = (await project.journal.getState(p.name)) ?? null
      const runs = (await project.journal.listRuns(p.name)).map(publicRun)
      return { secret: p.name, provider: p.provider, targets: p.targets, state, runs }
    },
    async trigger(name, o) {
      const p = project.policy(name)
      const out = await project.engine.rotate(p, { trigger: 'manual', actor: o.actor, force: o.force === true, emergency: o.emergency === true })
      return { ...publicRun(out.run), ...(out.waiting ? { waiting: out.waiting } : {}) }
    },
    async rollback(name, o) {
      const p = project.policy(name)
      const out = await project.engine.rollback(p, o.actor)
      return publicRun(out.run)
    },
  }
}
