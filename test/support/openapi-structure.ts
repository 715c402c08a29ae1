import Ajv2020 from 'ajv/dist/2020';

/**
 * The structure of an OpenAPI 3.1 document, as far as this gateway's document uses it: the objects, their required
 * fields and the shapes of status codes, parameters, media types and security. Written from the specification's
 * text for these tests; `openApiProblems` adds the checks a JSON Schema cannot express (references resolve, path
 * templates are declared, security names a scheme).
 */
const extensions = { '^x-': {} };

const OPENAPI_31_STRUCTURE = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['openapi', 'info', 'paths'],
  properties: {
    openapi: { type: 'string', pattern: '^3\\.1\\.\\d+$' },
    info: {
      type: 'object',
      required: ['title', 'version'],
      properties: { title: { type: 'string' }, version: { type: 'string' }, description: { type: 'string' } },
    },
    servers: {
      type: 'array',
      items: { type: 'object', required: ['url'], properties: { url: { type: 'string' } } },
    },
    paths: {
      type: 'object',
      propertyNames: { pattern: '^/' },
      additionalProperties: { $ref: '#/$defs/pathItem' },
    },
    components: {
      type: 'object',
      properties: {
        schemas: { type: 'object', additionalProperties: { type: ['object', 'boolean'] } },
        securitySchemes: { type: 'object', additionalProperties: { $ref: '#/$defs/securityScheme' } },
      },
    },
    security: { $ref: '#/$defs/security' },
    tags: {
      type: 'array',
      items: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
    },
  },
  patternProperties: extensions,
  additionalProperties: false,
  $defs: {
    pathItem: {
      type: 'object',
      properties: Object.fromEntries(
        ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'].map((method) => [
          method,
          { $ref: '#/$defs/operation' },
        ]),
      ),
      patternProperties: extensions,
      additionalProperties: false,
    },
    operation: {
      type: 'object',
      required: ['responses'],
      properties: {
        operationId: { type: 'string' },
        summary: { type: 'string' },
        description: { type: 'string' },
        tags: { type: 'array', items: { type: 'string' } },
        parameters: { type: 'array', items: { $ref: '#/$defs/parameter' } },
        requestBody: {
          type: 'object',
          required: ['content'],
          properties: { content: { $ref: '#/$defs/content' }, required: { type: 'boolean' } },
        },
        responses: {
          type: 'object',
          minProperties: 1,
          propertyNames: { pattern: '^([1-5](\\d\\d|XX)|default)$' },
          additionalProperties: { $ref: '#/$defs/response' },
        },
        security: { $ref: '#/$defs/security' },
        deprecated: { type: 'boolean' },
      },
      patternProperties: extensions,
      additionalProperties: false,
    },
    parameter: {
      type: 'object',
      required: ['name', 'in', 'schema'],
      properties: {
        name: { type: 'string' },
        in: { enum: ['query', 'header', 'path', 'cookie'] },
        required: { type: 'boolean' },
        description: { type: 'string' },
        schema: { type: ['object', 'boolean'] },
      },
      // A path parameter is always required.
      if: { properties: { in: { const: 'path' } } },
      then: { required: ['required'], properties: { required: { const: true } } },
    },
    response: {
      type: 'object',
      required: ['description'],
      properties: { description: { type: 'string' }, content: { $ref: '#/$defs/content' } },
    },
    content: {
      type: 'object',
      propertyNames: { pattern: '^[a-z*]+/[a-z0-9.+*-]+$' },
      additionalProperties: {
        type: 'object',
        required: ['schema'],
        properties: { schema: { type: ['object', 'boolean'] } },
      },
    },
    security: {
      type: 'array',
      items: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
    },
    securityScheme: {
      type: 'object',
      required: ['type'],
      properties: { type: { enum: ['apiKey', 'http', 'mutualTLS', 'oauth2', 'openIdConnect'] } },
      allOf: [
        {
          if: { properties: { type: { const: 'http' } } },
          then: { required: ['scheme'], properties: { scheme: { type: 'string' } } },
        },
        {
          if: { properties: { type: { const: 'apiKey' } } },
          then: { required: ['name', 'in'], properties: { in: { enum: ['query', 'header', 'cookie'] } } },
        },
      ],
    },
  },
};

export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, unknown> };
  security?: Record<string, string[]>[];
}

export interface OpenApiOperation {
  operationId?: string;
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
  security?: Record<string, string[]>[];
}

/** Every way `document` is not a well-formed OpenAPI 3.1 document; empty when it is. */
export function openApiProblems(document: unknown): string[] {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validate = ajv.compile(OPENAPI_31_STRUCTURE);
  // Read as a document only once the structure is known to hold.
  const doc = document as OpenApiDocument;
  if (!validate(document)) {
    return (validate.errors ?? []).map((error) => `${error.instancePath || '(root)'}: ${error.message ?? ''}`);
  }
  const problems: string[] = [];

  // Each component must itself be a JSON Schema (2020-12, the dialect OpenAPI 3.1 uses).
  const schemas = new Ajv2020({ strict: false, validateFormats: false });
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
    if (!schemas.validateSchema(schema as object)) problems.push(`component ${name}: not a JSON Schema`);
  }

  const refs = new Set<string>();
  const collect = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(collect);
    else if (value && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if (key === '$ref' && typeof inner === 'string') refs.add(inner);
        else collect(inner);
      }
    }
  };
  collect(doc);
  for (const ref of refs) {
    const match = /^#\/components\/schemas\/(.+)$/.exec(ref);
    if (!match?.[1] || !(match[1] in (doc.components?.schemas ?? {}))) problems.push(`$ref ${ref} resolves to nothing`);
  }

  const schemes = Object.keys(doc.components?.securitySchemes ?? {});
  for (const [path, item] of Object.entries(doc.paths)) {
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const [method, operation] of Object.entries(item)) {
      const declared = (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
      for (const name of templated) {
        if (!declared.includes(name ?? '')) problems.push(`${method} ${path}: path parameter {${name}} not declared`);
      }
      for (const name of declared) {
        if (!templated.includes(name)) problems.push(`${method} ${path}: declares {${name}}, not in the path`);
      }
      for (const requirement of [...(operation.security ?? []), ...(doc.security ?? [])]) {
        for (const scheme of Object.keys(requirement)) {
          if (!schemes.includes(scheme)) problems.push(`${method} ${path}: security names unknown scheme ${scheme}`);
        }
      }
    }
  }
  const operationIds = Object.values(doc.paths).flatMap((item) =>
    Object.values(item).flatMap((operation) => (operation.operationId ? [operation.operationId] : [])),
  );
  for (const id of new Set(operationIds)) {
    if (operationIds.filter((other) => other === id).length > 1) problems.push(`operationId ${id} is not unique`);
  }
  return problems;
}
