/**
 * Data Factory datasets: how a factory keeps them (the JSON that was PUT, so
 * they round-trip), the checks ADF makes when one is saved, and how a run
 * resolves a dataset reference: the reference's parameter values (evaluated
 * by the caller in the pipeline's context) over the dataset's declared
 * defaults, then the dataset's own expressions (`@dataset().x`) evaluated
 * with them.
 *
 * Checks on save, in ADF's words where they are known: a linked service that
 * does not exist is "invalid reference" (the wording ADF uses for pipelines);
 * the other messages are chosen (unconfirmed) in the same style.
 */
import { ServiceError } from "../http";
import { evaluateValue, ExpressionError, type ExpressionContext } from "./expressions";
import { findLinkedService } from "./runs";
import type { DatasetEntity, DatasetProperties, FactoryEntity, Json, JsonObject, ReferenceJson } from "./types";

function badRequest(message: string): ServiceError {
  return new ServiceError(400, "BadRequest", message);
}

export function findDataset(factory: FactoryEntity, name: string): DatasetEntity | undefined {
  for (const [k, v] of factory.datasets) if (k.toLowerCase() === name.toLowerCase()) return v;
  return undefined;
}

/** What a dataset PUT must hold before it is stored (the full schema is the spec check's job). */
export function validateDataset(factory: FactoryEntity, name: string, properties: DatasetProperties | undefined): DatasetProperties {
  if (!properties || typeof properties !== "object" || Array.isArray(properties)) throw badRequest(`The dataset '${name}' has no 'properties'.`);
  if (typeof properties.type !== "string" || properties.type === "") throw badRequest(`The dataset '${name}' needs 'properties.type'.`);
  const ref = properties.linkedServiceName?.referenceName;
  if (typeof ref !== "string" || ref === "") throw badRequest(`The dataset '${name}' needs 'properties.linkedServiceName'.`);
  if (!findLinkedService(factory, ref)) throw badRequest(`The document creation or update failed because of invalid reference '${ref}'.`);
  return properties;
}

/** A dataset as a run sees it: its definition with every expression evaluated. */
export interface ResolvedDataset {
  name: string;
  type: string;
  linkedServiceName: string;
  typeProperties: JsonObject;
  /** The parameter values the expressions saw. */
  parameters: JsonObject;
}

/** Resolves an activity's dataset reference (its `parameters` already evaluated in the pipeline's context). */
export function resolveDataset(factory: FactoryEntity, reference: ReferenceJson, pipelineContext: ExpressionContext): ResolvedDataset {
  const entity = findDataset(factory, reference.referenceName);
  if (!entity) throw new ExpressionError(`The dataset '${reference.referenceName}' referenced by the activity does not exist.`);
  const declared = entity.properties.parameters ?? {};
  const passed = (reference.parameters ?? {}) as JsonObject;
  const unknown = Object.keys(passed).filter((p) => !(p in declared));
  if (unknown.length) throw new ExpressionError(`The parameters ${unknown.map((u) => `'${u}'`).join(", ")} are not declared in dataset '${entity.name}'.`);
  const parameters: JsonObject = {};
  for (const [p, spec] of Object.entries(declared)) {
    if (p in passed) parameters[p] = passed[p];
    else if (spec.defaultValue !== undefined) parameters[p] = spec.defaultValue as Json;
    else throw new ExpressionError(`The dataset '${entity.name}' needs a value for its parameter '${p}', which has no default.`);
  }
  const context: ExpressionContext = { ...pipelineContext, dataset: parameters };
  const typeProperties = evaluateValue((entity.properties.typeProperties ?? {}) as JsonObject, context) as JsonObject;
  return { name: entity.name, type: entity.properties.type, linkedServiceName: entity.properties.linkedServiceName.referenceName, typeProperties, parameters };
}
