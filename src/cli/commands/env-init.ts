import { promises as fs, constants as fsc } from 'node:fs'
import { join } from 'node:path'
import { CONFIG_FILE, KEY_FILE, initConfigText } from '../../config/envault-config.js'
import { AppError } from '../../core/errors.js'
import { writeFileAtomic } from '../../adapters/file/atomic-write.js'
import { withFileLock } from '../../adapters/file/file-lock.js'
import type { CommandContext } from '../context.js'
import { safe } from '../output.js'

/** `envault init <project>`: writes .envault.yml (refusing to overwrite without --force). */
export async function init(ctx: CommandContext, [project]: string[], opts: Record<string, unknown>): Promise<void> {
  if (!project || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(project)) {
    throw new AppError('USAGE', `invalid project name "${project ?? ''}": use letters, digits, ".", "_" or "-"`)
  }
  const path = join(ctx.io.cwd, CONFIG_FILE)
  let gitignoreUpdated = false
  await withFileLock(path, async () => {
    const exists = await fs.access(path, fsc.F_OK).then(() => true, () => false)
    if (exists && opts.force !== true) {
      throw new AppError('ALREADY_EXISTS', `${CONFIG_FILE} already exists; nothing was changed`, { hint: 'pass --force to overwrite it' })
    }
    await writeFileAtomic(path, initConfigText(project), { mode: 0o644, what: CONFIG_FILE })
  })
  // Keep the master key file out of git when the project has a .gitignore.
  const gi = join(ctx.io.cwd, '.gitignore')
  await withFileLock(gi, async () => {
    let text: string
    try {
      text = await fs.readFile(gi, 'utf8')
    } catch {
      return
    }
    if (text.split(/\r?\n/).some((l) => l.trim() === KEY_FILE || l.trim() === `/${KEY_FILE}`)) return
    const eol = text.includes('\r\n') ? '\r\n' : '\n'
    await writeFileAtomic(gi, `${text}${text === '' || text.endsWith('\n') ? '' : eol}${KEY_FILE}${eol}`, { mode: 0o644, what: '.gitignore' })
    gitignoreUpdated = true
  })
  if (ctx.out.json) return ctx.out.data({ config: path, project, gitignoreUpdated })
  ctx.out.line(`✓ Created ${CONFIG_FILE} for project ${safe(project)} (environments: dev, staging, prod)`)
  if (gitignoreUpdated) ctx.out.line(`✓ Added ${KEY_FILE} to .gitignore`)
}
