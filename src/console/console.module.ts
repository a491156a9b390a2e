import { Module } from '@nestjs/common';
import type { ChartWardenOptions } from '../config/chartwarden.options.js';
import { CHARTWARDEN_OPTIONS } from '../config/module-options.js';
import { ConsoleController } from './console.controller.js';
import { ConsoleFiles } from './console-files.js';
import { ConsoleSignInSettings } from './console-sign-in.settings.js';

/**
 * The staff console (issue #18): the browser app built into `dist/console`, served at
 * `/console` with its configuration and the development sign-in. It has no permission logic
 * and no data of its own: pages call the workflow and FHIR APIs with the signed-in person's token.
 */
@Module({
  controllers: [ConsoleController],
  providers: [
    { provide: ConsoleSignInSettings, inject: [CHARTWARDEN_OPTIONS], useFactory: (o: ChartWardenOptions) => ConsoleSignInSettings.from(o) },
    { provide: ConsoleFiles, useFactory: () => new ConsoleFiles() },
  ],
})
export class ConsoleModule {}
