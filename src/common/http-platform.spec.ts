import 'reflect-metadata';
import { All, Controller, Get } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { fitWildcardRoutes, wildcardIn } from './http-platform.js';

@Controller('things')
class Things {
  @Get(':id')
  one() {}

  @Get('files/*path')
  file() {}

  @Get(['app', 'app/*path'])
  app() {}

  @All('*path')
  rest() {}
}

const pathOf = (handler: keyof Things) => Reflect.getMetadata(PATH_METADATA, Things.prototype[handler]) as string | string[];

describe('fitWildcardRoutes (decision 0021: one module on Express or Fastify)', () => {
  afterEach(() => fitWildcardRoutes('express', [Things]));

  it('gives Fastify\'s router a bare trailing wildcard, and leaves every other route as declared', () => {
    fitWildcardRoutes('fastify', [Things]);
    expect(pathOf('file')).toBe('files/*');
    expect(pathOf('app')).toEqual(['app', 'app/*']);
    expect(pathOf('rest')).toBe('*');
    expect(pathOf('one')).toBe(':id');
  });

  it('gives Express the named wildcards as declared, also after a Fastify app was set up in the same process', () => {
    fitWildcardRoutes('fastify', [Things]);
    fitWildcardRoutes('fastify', [Things]);
    fitWildcardRoutes('express', [Things]);
    expect(pathOf('file')).toBe('files/*path');
    expect(pathOf('app')).toEqual(['app', 'app/*path']);
    expect(pathOf('rest')).toBe('*path');
  });

  it('leaves the routes as declared when there is no HTTP platform (an application context)', () => {
    fitWildcardRoutes(undefined, [Things]);
    expect(pathOf('file')).toBe('files/*path');
  });

  it('knows a trailing named wildcard only', () => {
    expect(wildcardIn('a/*path')).toBe(true);
    expect(wildcardIn(['a', '*path'])).toBe(true);
    expect(wildcardIn('a/:id')).toBe(false);
    expect(wildcardIn('a/*pathology')).toBe(false);
  });
});
