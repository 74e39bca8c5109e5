/**
 * Azure Data Factory's management client for the connection's cloud (built
 * by runtime/clients.ts, which builds every management client).
 */
export { dataFactoryClient } from "./clients";
