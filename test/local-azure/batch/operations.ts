/**
 * Every operation of the Batch data-plane REST API (2022-10-01.16.0), as
 * method, path template and operationId, so that a request the local Batch
 * does not implement is answered 501 NotImplemented naming the operation,
 * rather than a 404 a client would read as "not found". Taken from the
 * service's REST specification.
 */
export const BATCH_OPERATIONS: readonly (readonly [method: string, template: string, operationId: string])[] = [
  ["GET", "/applications", "Application_List"],
  ["GET", "/applications/{applicationId}", "Application_Get"],
  ["GET", "/poolusagemetrics", "Pool_ListUsageMetrics"],
  ["GET", "/supportedimages", "Account_ListSupportedImages"],
  ["GET", "/nodecounts", "Account_ListPoolNodeCounts"],
  ["GET", "/lifetimepoolstats", "Pool_GetAllLifetimeStatistics"],
  ["GET", "/lifetimejobstats", "Job_GetAllLifetimeStatistics"],
  ["POST", "/certificates", "Certificate_Add"],
  ["GET", "/certificates", "Certificate_List"],
  ["POST", "/certificates(thumbprintAlgorithm={thumbprintAlgorithm},thumbprint={thumbprint})/canceldelete", "Certificate_CancelDeletion"],
  ["DELETE", "/certificates(thumbprintAlgorithm={thumbprintAlgorithm},thumbprint={thumbprint})", "Certificate_Delete"],
  ["GET", "/certificates(thumbprintAlgorithm={thumbprintAlgorithm},thumbprint={thumbprint})", "Certificate_Get"],
  ["DELETE", "/jobs/{jobId}/tasks/{taskId}/files/{filePath}", "File_DeleteFromTask"],
  ["GET", "/jobs/{jobId}/tasks/{taskId}/files/{filePath}", "File_GetFromTask"],
  ["HEAD", "/jobs/{jobId}/tasks/{taskId}/files/{filePath}", "File_GetPropertiesFromTask"],
  ["DELETE", "/pools/{poolId}/nodes/{nodeId}/files/{filePath}", "File_DeleteFromComputeNode"],
  ["GET", "/pools/{poolId}/nodes/{nodeId}/files/{filePath}", "File_GetFromComputeNode"],
  ["HEAD", "/pools/{poolId}/nodes/{nodeId}/files/{filePath}", "File_GetPropertiesFromComputeNode"],
  ["GET", "/jobs/{jobId}/tasks/{taskId}/files", "File_ListFromTask"],
  ["GET", "/pools/{poolId}/nodes/{nodeId}/files", "File_ListFromComputeNode"],
  ["HEAD", "/jobschedules/{jobScheduleId}", "JobSchedule_Exists"],
  ["DELETE", "/jobschedules/{jobScheduleId}", "JobSchedule_Delete"],
  ["GET", "/jobschedules/{jobScheduleId}", "JobSchedule_Get"],
  ["PATCH", "/jobschedules/{jobScheduleId}", "JobSchedule_Patch"],
  ["PUT", "/jobschedules/{jobScheduleId}", "JobSchedule_Update"],
  ["POST", "/jobschedules/{jobScheduleId}/disable", "JobSchedule_Disable"],
  ["POST", "/jobschedules/{jobScheduleId}/enable", "JobSchedule_Enable"],
  ["POST", "/jobschedules/{jobScheduleId}/terminate", "JobSchedule_Terminate"],
  ["POST", "/jobschedules", "JobSchedule_Add"],
  ["GET", "/jobschedules", "JobSchedule_List"],
  ["DELETE", "/jobs/{jobId}", "Job_Delete"],
  ["GET", "/jobs/{jobId}", "Job_Get"],
  ["PATCH", "/jobs/{jobId}", "Job_Patch"],
  ["PUT", "/jobs/{jobId}", "Job_Update"],
  ["POST", "/jobs/{jobId}/disable", "Job_Disable"],
  ["POST", "/jobs/{jobId}/enable", "Job_Enable"],
  ["POST", "/jobs/{jobId}/terminate", "Job_Terminate"],
  ["POST", "/jobs", "Job_Add"],
  ["GET", "/jobs", "Job_List"],
  ["GET", "/jobschedules/{jobScheduleId}/jobs", "Job_ListFromJobSchedule"],
  ["GET", "/jobs/{jobId}/jobpreparationandreleasetaskstatus", "Job_ListPreparationAndReleaseTaskStatus"],
  ["GET", "/jobs/{jobId}/taskcounts", "Job_GetTaskCounts"],
  ["POST", "/pools", "Pool_Add"],
  ["GET", "/pools", "Pool_List"],
  ["DELETE", "/pools/{poolId}", "Pool_Delete"],
  ["HEAD", "/pools/{poolId}", "Pool_Exists"],
  ["GET", "/pools/{poolId}", "Pool_Get"],
  ["PATCH", "/pools/{poolId}", "Pool_Patch"],
  ["POST", "/pools/{poolId}/disableautoscale", "Pool_DisableAutoScale"],
  ["POST", "/pools/{poolId}/enableautoscale", "Pool_EnableAutoScale"],
  ["POST", "/pools/{poolId}/evaluateautoscale", "Pool_EvaluateAutoScale"],
  ["POST", "/pools/{poolId}/resize", "Pool_Resize"],
  ["POST", "/pools/{poolId}/stopresize", "Pool_StopResize"],
  ["POST", "/pools/{poolId}/updateproperties", "Pool_UpdateProperties"],
  ["POST", "/pools/{poolId}/removenodes", "Pool_RemoveNodes"],
  ["POST", "/jobs/{jobId}/tasks", "Task_Add"],
  ["GET", "/jobs/{jobId}/tasks", "Task_List"],
  ["POST", "/jobs/{jobId}/addtaskcollection", "Task_AddCollection"],
  ["DELETE", "/jobs/{jobId}/tasks/{taskId}", "Task_Delete"],
  ["GET", "/jobs/{jobId}/tasks/{taskId}", "Task_Get"],
  ["PUT", "/jobs/{jobId}/tasks/{taskId}", "Task_Update"],
  ["GET", "/jobs/{jobId}/tasks/{taskId}/subtasksinfo", "Task_ListSubtasks"],
  ["POST", "/jobs/{jobId}/tasks/{taskId}/terminate", "Task_Terminate"],
  ["POST", "/jobs/{jobId}/tasks/{taskId}/reactivate", "Task_Reactivate"],
  ["POST", "/pools/{poolId}/nodes/{nodeId}/users", "ComputeNode_AddUser"],
  ["DELETE", "/pools/{poolId}/nodes/{nodeId}/users/{userName}", "ComputeNode_DeleteUser"],
  ["PUT", "/pools/{poolId}/nodes/{nodeId}/users/{userName}", "ComputeNode_UpdateUser"],
  ["GET", "/pools/{poolId}/nodes/{nodeId}", "ComputeNode_Get"],
  ["POST", "/pools/{poolId}/nodes/{nodeId}/reboot", "ComputeNode_Reboot"],
  ["POST", "/pools/{poolId}/nodes/{nodeId}/reimage", "ComputeNode_Reimage"],
  ["POST", "/pools/{poolId}/nodes/{nodeId}/disablescheduling", "ComputeNode_DisableScheduling"],
  ["POST", "/pools/{poolId}/nodes/{nodeId}/enablescheduling", "ComputeNode_EnableScheduling"],
  ["GET", "/pools/{poolId}/nodes/{nodeId}/remoteloginsettings", "ComputeNode_GetRemoteLoginSettings"],
  ["GET", "/pools/{poolId}/nodes/{nodeId}/rdp", "ComputeNode_GetRemoteDesktop"],
  ["POST", "/pools/{poolId}/nodes/{nodeId}/uploadbatchservicelogs", "ComputeNode_UploadBatchServiceLogs"],
  ["GET", "/pools/{poolId}/nodes", "ComputeNode_List"],
  ["GET", "/pools/{poolId}/nodes/{nodeId}/extensions/{extensionName}", "ComputeNodeExtension_Get"],
  ["GET", "/pools/{poolId}/nodes/{nodeId}/extensions", "ComputeNodeExtension_List"],
];

function pattern(template: string): RegExp {
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith("{") ? (part === "{filePath}" ? ".+" : "[^/]+") : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`, "i");
}

const COMPILED = BATCH_OPERATIONS.map(([method, template, operationId]) => ({ method, pattern: pattern(template), operationId, literal: template.replace(/\{[^}]+\}/g, "").length }));

/** The operationId of a request by method and path, or undefined when the API has no such operation. */
export function batchOperationId(method: string, path: string): string | undefined {
  const hits = COMPILED.filter((o) => o.method === method.toUpperCase() && o.pattern.test(path)).sort((a, b) => b.literal - a.literal);
  return hits[0]?.operationId;
}
