/**
 * The embedding guide's example (docs/guides/embedding.md, and the README's "Embedding ChartWarden
 * in your Nest app"): a hospital's own Nest application with ChartWarden inside it. Each block
 * between `// >>> name` and `// <<< name` is shown in the docs verbatim, with `from 'chartwarden'`
 * where this file imports the sources; test/e2e/embedding-client.e2e-spec.ts runs this very file
 * and fails when a doc's block differs from it.
 */
// >>> imports
import { Body, Controller, Get, Headers, HttpException, Injectable, Module, Param, Post, type DynamicModule } from '@nestjs/common';
import type { Patient } from '@medplum/fhirtypes';
import { ChartWarden, ChartWardenError, ChartWardenModule, TokenVerifier, toErrorResponse, WriteGuard } from '../../../src/index.js';
import type { ChartWardenOptions, ErrorAnswer, FhirContext, WriteAttempt } from '../../../src/index.js';
// <<< imports

// >>> read
/** The ward's screen: a patient's name, read as the signed-in clinician. ChartWarden decides and records. */
@Controller('ward')
export class WardController {
  constructor(
    private readonly chartwarden: ChartWarden,
    private readonly tokens: TokenVerifier,
  ) {}

  @Get('patients/:id')
  async patient(@Headers('authorization') authorization: string | undefined, @Param('id') id: string) {
    const clinician = await answer(this.tokens.verifyAuthorization(authorization));
    const patient = await answer(this.chartwarden.as(clinician).read('Patient', id));
    return { id: patient.id, name: patient.name?.[0]?.text };
  }
}
// <<< read

// >>> write
/** The admissions desk registers a patient as the signed-in clerk: ChartWarden's rules and the hospital's guard apply. */
@Controller('admissions')
export class AdmissionsController {
  constructor(
    private readonly chartwarden: ChartWarden,
    private readonly tokens: TokenVerifier,
  ) {}

  @Post()
  async admit(@Headers() headers: Record<string, string | undefined>, @Body() body: { name: string; recordNumber?: string }) {
    const clerk = await answer(this.tokens.verifyAuthorization(headers.authorization));
    const patient: Patient = { resourceType: 'Patient', name: [{ text: body.name }] };
    if (body.recordNumber) patient.identifier = [{ system: RECORD_NUMBER, value: body.recordNumber }];
    // The host's request id becomes the audit entry's: the trail and the host's logs meet on it.
    const created = await answer(this.chartwarden.as(clerk, { requestId: headers['x-request-id'] }).create(patient));
    return { id: created.id, version: created.meta?.versionId };
  }
}

/** A refusal answered as ChartWarden's own /fhir routes answer it: the same status and OperationOutcome. */
async function answer<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (e) {
    const { status, outcome } = toErrorResponse(e);
    throw new HttpException(outcome, status);
  }
}
// <<< write

// >>> guard
/** The hospital's medical record number (病案号) system. */
export const RECORD_NUMBER = 'urn:oid:2.16.156.10011.1.13';

/** The hospital's own rule, refused like ChartWarden's: every Patient carries its medical record number. */
export class RecordNumberMissingError extends ChartWardenError<'hospital.record-number-missing'> {
  constructor() {
    super('hospital.record-number-missing', `A Patient needs the hospital's medical record number (${RECORD_NUMBER})`, ['Patient.identifier']);
  }

  /** How it answers: 422, a business rule (an error that declares no answer is a 500 that reveals nothing). */
  override get answer(): ErrorAnswer {
    return { status: 422, issue: 'business-rule' };
  }
}

/** Runs before every write, HTTP or embedded, after ChartWarden's own guards; throwing refuses it and nothing is written. */
@Injectable()
export class RecordNumberGuard extends WriteGuard {
  async check(_ctx: FhirContext, { resource }: WriteAttempt): Promise<void> {
    if (resource.resourceType === 'Patient' && !resource.identifier?.some((i) => i.system === RECORD_NUMBER && i.value)) {
      throw new RecordNumberMissingError();
    }
  }
}
// <<< guard

// >>> module
/** The hospital's application: its own routes, with ChartWarden imported beside them. */
@Module({})
export class WardModule {
  static forRoot(chartwarden: ChartWardenOptions): DynamicModule {
    return {
      module: WardModule,
      imports: [ChartWardenModule.forRoot({ ...chartwarden, writeGuards: [RecordNumberGuard] })],
      controllers: [WardController, AdmissionsController],
    };
  }
}
// <<< module
