import { Controller, Get, Inject, Res } from '@nestjs/common';
import { type PlatformResponse } from '../common/http-exchange.js';
import type { ChartWardenOptions } from '../config/chartwarden.options.js';
import { CHARTWARDEN_OPTIONS } from '../config/module-options.js';
import { jsonResponse, sendFhir } from './fhir-response.js';
import { Permission } from './route-permission.js';
import { identityProvider, smartConfiguration, type SmartConfiguration } from './smart-configuration.js';

/**
 * `GET /.well-known/smart-configuration`, and the same relative to the FHIR base (SMART App
 * Launch 2: `[base]/.well-known/smart-configuration`): how a SMART app gets a token ChartWarden
 * accepts. Public, like the CapabilityStatement; it describes the configuration, no record, so
 * it is not recorded in the audit trail either.
 */
@Controller()
export class SmartConfigurationController {
  private readonly configuration: SmartConfiguration;

  constructor(@Inject(CHARTWARDEN_OPTIONS) options: ChartWardenOptions) {
    this.configuration = smartConfiguration(identityProvider(options.identity));
  }

  @Get(['.well-known/smart-configuration', 'fhir/.well-known/smart-configuration'])
  @Permission.public('the SMART configuration describes the identity provider and the scopes understood, not any record (SMART App Launch 2, conformance)')
  configurationDocument(@Res() res: PlatformResponse): void {
    sendFhir(res, jsonResponse(200, this.configuration));
  }
}
