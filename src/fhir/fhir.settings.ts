import { FHIR_DEFAULTS, type FhirOptions } from '../config/chartwarden.options.js';

/** The FHIR facade's options with defaults applied; injected by class. */
export class FhirSettings {
  readonly maxBodyBytes: number;
  readonly defaultPageSize: number;
  readonly maxPageSize: number;
  readonly countTotalUpTo: number;
  readonly maxValuesPerParameter: number;
  readonly maxSearchParameters: number;
  readonly maxJsonDepth: number;
  readonly baseUrl?: string;

  constructor(options: FhirOptions = {}) {
    this.maxBodyBytes = options.maxBodyBytes ?? FHIR_DEFAULTS.maxBodyBytes;
    this.defaultPageSize = options.defaultPageSize ?? FHIR_DEFAULTS.defaultPageSize;
    this.maxPageSize = options.maxPageSize ?? FHIR_DEFAULTS.maxPageSize;
    this.countTotalUpTo = options.countTotalUpTo ?? FHIR_DEFAULTS.countTotalUpTo;
    this.maxValuesPerParameter = options.maxValuesPerParameter ?? FHIR_DEFAULTS.maxValuesPerParameter;
    this.maxSearchParameters = options.maxSearchParameters ?? FHIR_DEFAULTS.maxSearchParameters;
    this.maxJsonDepth = options.maxJsonDepth ?? FHIR_DEFAULTS.maxJsonDepth;
    this.baseUrl = options.baseUrl?.replace(/\/+$/, '');
  }
}
