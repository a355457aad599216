import { describe, expect, it } from 'vitest'
import { findEnvironment, initConfigText, parseEnvaultConfig } from './envault-config.js'

describe('.envault.yml', () => {
  it('reads the file init writes', () => {
    const c = parseEnvaultConfig(initConfigText('my-project'), '/p/.envault.yml')
    expect(c.project).toBe('my-project')
    expect(c.environments.map((e) => [e.name, e.envFile, e.path])).toEqual([
      ['dev', '.env.dev', '/p/.env.dev'],
      ['staging', '.env.staging', '/p/.env.staging'],
      ['prod', '.env.prod', '/p/.env.prod'],
    ])
    expect(c.conflictStrategy).toBe('source_wins')
    expect(c.skipKeys).toEqual(['COMMIT_SHA', 'BUILD_NUMBER'])
  })
  it('accepts environments as a list and passes rotations/notify through', () => {
    const c = parseEnvaultConfig('project: p\nenvironments:\n  - name: dev\n    env_file: env/dev.env\nrotations:\n  - secret: X\nnotify: {slack: y}\n', '/p/.envault.yml')
    expect(c.environments[0]).toMatchObject({ name: 'dev', path: '/p/env/dev.env' })
    expect(c.raw.rotations).toEqual([{ secret: 'X' }])
    expect(c.document.getIn(['notify', 'slack'])).toBe('y')
  })
  it('reports every problem at once with its line', () => {
    const text = ['project: p', 'environments:', '  dev: .env.dev', '  bad name!: x', '  prod: 42', 'conflict_strategy: newest', 'skip_key: [A]', 'stores:', '  v: {type: nope}'].join('\n')
    let msg = ''
    try {
      parseEnvaultConfig(text, '/p/.envault.yml')
    } catch (e) {
      msg = (e as Error).message
      expect(e).toMatchObject({ code: 'CONFIG_INVALID' })
    }
    expect(msg).toMatch(/line 6: conflict_strategy/)
    expect(msg).toMatch(/line 7: skip_key: unknown key/)
    expect(msg).toMatch(/line 9: stores\.v\.type/)
    expect(msg).toMatch(/line 4: environments: invalid environment name/)
    expect(msg).toMatch(/line 5: environments\.prod/)
  })
  it('reports YAML syntax errors and duplicate environments/files', () => {
    expect(() => parseEnvaultConfig('project: [\n', '/p/.envault.yml')).toThrow(/not valid YAML:\n {2}line/)
    expect(() => parseEnvaultConfig('project: p\nenvironments:\n  a: .env\n  b: ./.env\n', '/p/.envault.yml')).toThrow(/uses the same file as a/)
    expect(() => parseEnvaultConfig('project: p\n', '/p/.envault.yml')).toThrow(/environments: required/)
  })
  it('refuses an unknown environment instead of inventing a file', () => {
    const c = parseEnvaultConfig(initConfigText('p'), '/p/.envault.yml')
    expect(() => findEnvironment(c, 'qa')).toThrow(/unknown environment "qa"/)
  })
})
