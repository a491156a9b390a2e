import { Module } from '@nestjs/common';
import type { ChartWardenOptions } from '../config/chartwarden.options.js';
import { CHARTWARDEN_OPTIONS } from '../config/module-options.js';
import { BearerAuthGuard } from './bearer-auth.guard.js';
import { TokenVerifier } from './token.verifier.js';

/** Who is calling: bearer tokens verified against the configured JWKS or the dev key. Knows nothing of FHIR or storage. */
@Module({
  providers: [
    {
      provide: TokenVerifier,
      inject: [CHARTWARDEN_OPTIONS],
      useFactory: (o: ChartWardenOptions) => TokenVerifier.create(o.identity ?? {}, o.dataDir),
    },
    BearerAuthGuard,
  ],
  exports: [TokenVerifier, BearerAuthGuard],
})
export class IdentityModule {}
