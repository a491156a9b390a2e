import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';

/**
 * The workflow APIs (`/disputes`, `/copy-requests`) as OpenAPI 3, served at `/docs` (Swagger
 * UI) and `/docs-json`. The FHIR API is described by its CapabilityStatement (`/fhir/metadata`),
 * not here. A host application embedding the module calls this on its own app if it wants the page.
 */
export function setupOpenApi(app: INestApplication, path = 'docs'): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('ChartWarden workflow API')
    .setDescription(
      'Record-room copy requests (R-30…R-34) and dispute sealing (R-40…R-44). Every call needs a bearer token; ' +
        'every step is recorded in the audit trail (GET /fhir/AuditEvent). Errors are FHIR OperationOutcomes with ' +
        'ChartWarden codes in issue.details.coding. The FHIR API itself: GET /fhir/metadata.',
    )
    .setVersion('1')
    .addBearerAuth()
    .build();
  const document = SwaggerModule.createDocument(app, config);
  // Only the workflow routes: the FHIR ones are described by the CapabilityStatement.
  document.paths = Object.fromEntries(Object.entries(document.paths).filter(([p]) => p.startsWith('/disputes') || p.startsWith('/copy-requests')));
  SwaggerModule.setup(path, app, document, { jsonDocumentUrl: `${path}-json` });
  return document;
}
