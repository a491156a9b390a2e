import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { ChartWardenOptions } from './chartwarden.options.js';

/**
 * `forRoot(options)` / `forRootAsync({ useFactory, inject })`, built by Nest's
 * ConfigurableModuleBuilder. The root module is global so that its options and the shared
 * ports it binds (clock, database, policy in force, write chain) reach every feature module
 * it imports (docs/decisions/0013).
 */
export const {
  ConfigurableModuleClass: ChartWardenConfigurableModule,
  MODULE_OPTIONS_TOKEN: CHARTWARDEN_OPTIONS,
} = new ConfigurableModuleBuilder<ChartWardenOptions>()
  .setClassMethodName('forRoot')
  .setExtras({}, (definition) => ({ ...definition, global: true }))
  .build();
