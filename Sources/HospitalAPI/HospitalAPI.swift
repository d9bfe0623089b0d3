package import HospitalCore
package import Hummingbird
package import Logging
import NIOCore

/// The JSON API on the hospital's router: its error and authentication middleware, `/openapi.json`, and
/// every controller under `/api`.
/// - Parameter portal: Where links in e-mails point (the portal's configured address).
package func addAPI(to router: Router<HospitalRequestContext>, services: HospitalServices, portal: PortalConfiguration, logger: Logger) {
    router.add(middleware: HospitalErrorMiddleware(logger: logger))
    router.add(middleware: AuthenticationMiddleware(accounts: services.accounts))
    router.get("openapi.json") { _, _ in
        Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
    }
    let api = router.group("api")
    AccountController(accounts: services.accounts, portal: portal).addRoutes(to: api)
    AccountAdminController(accounts: services.accounts).addRoutes(to: api)
    CareController(scheduling: services.scheduling).addRoutes(to: api)
    ReportController(reports: services.reports, consent: services.consent, logger: logger).addRoutes(to: api)
    ConsentController(consent: services.consent).addRoutes(to: api)
    AuditController(storage: services.storage, notary: services.notary).addRoutes(to: api)
    EmergencyController(emergency: services.emergency).addRoutes(to: api)
}
