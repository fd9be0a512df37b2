import { describe, expect, it } from 'vitest';
import { captureLogs } from '../testing/logs';
import { redactUrl, safeChildLogger } from './logging';

describe('redactUrl', () => {
  it('masks secret-looking query values and keeps the rest', () => {
    const url = redactUrl('/v1/ws?token=abc.def&x=1&access_token=zzz');
    expect(url).not.toContain('abc.def');
    expect(url).not.toContain('zzz');
    expect(url).toContain('x=1');
    expect(url.startsWith('/v1/ws?')).toBe(true);
  });
  it('masks what users wrote in search queries', () => {
    const url = redactUrl('/v1/search/messages?q=my%20diagnosis&limit=5');
    expect(url).not.toContain('diagnosis');
    expect(url).toContain('limit=5');
    expect(redactUrl('/v1/users?query=ada%40example.com')).not.toContain('ada');
  });
  it('leaves URLs without query alone', () => {
    expect(redactUrl('/v1/users/me')).toBe('/v1/users/me');
  });
});

describe('safeChildLogger', () => {
  it('redacts secrets at any of the first levels, whatever the parent was configured with', () => {
    const logs = captureLogs();
    const log = safeChildLogger(logs.logger, { service: 't' });
    log.info(
      {
        password: 'pw-top',
        body: { password: 'pw-1', passwordConfirm: 'pw-2', content: 'hello secret message' },
        req: { headers: { authorization: 'Bearer tok-1', cookie: 'c=1', 'set-cookie': 'x' } },
        nested: { deeper: { refreshToken: 'rt-1', accessToken: 'at-1', token: 'tk-1' } },
      },
      'event',
    );
    const text = logs.text();
    for (const secret of ['pw-top', 'pw-1', 'pw-2', 'hello secret message', 'tok-1', 'c=1', 'rt-1', 'at-1', 'tk-1']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('[Redacted]');
    expect(logs.records()[0]).toMatchObject({ service: 't', msg: 'event' });
  });

  it('drops SQL parameters from logged errors', () => {
    const logs = captureLogs();
    const log = safeChildLogger(logs.logger, {});
    const cause = Object.assign(new Error('syntax error'), { parameters: ['my private message'] });
    const err = new Error('Failed query: insert into m values ($1)\nparams: my private message', { cause });
    log.error({ err }, 'boom');
    expect(logs.text()).not.toContain('my private message');
    expect(logs.text()).toContain('Failed query: insert into m values ($1)');
  });
});
