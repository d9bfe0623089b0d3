package import HospitalAPI
package import HospitalCore
package import Hummingbird
package import Logging

/// The portal on the hospital router: its files, then its pages behind their middleware (outermost
/// first): security headers, the session cookie (so that error pages know who is signed in and
/// whether a session just ended), HTML errors, the cross-site check.
package func addPortal(
    to router: Router<HospitalRequestContext>, configuration: PortalConfiguration, services: HospitalServices, logger: Logger
) throws {
    let pages = try PortalPages(configuration: configuration, idleSeconds: services.sessionPolicy.portalIdle.wholeSeconds)
    PortalStatic.add(to: router)
    router.add(middleware: PortalNotFoundMiddleware(pages: pages))
    let group = router.group(context: PortalRequestContext.self)
        .add(middleware: PortalHeadersMiddleware(configuration: configuration))
        .add(middleware: PortalSessionMiddleware(accounts: services.accounts, configuration: configuration, random: services.random))
        .add(middleware: PortalErrorMiddleware(pages: pages))
        .add(middleware: CrossSiteRequestMiddleware(configuration: configuration))
    let cookies = PortalCookies(configuration: configuration)
    let secondStep = PortalSecondFactorController(services: services, pages: pages, cookies: cookies)
    secondStep.addRoutes(to: group)
    PortalController(services: services, pages: pages, cookies: cookies, clock: services.clock, secondStep: secondStep)
        .addRoutes(to: group)
    PortalCareController(services: services, pages: pages, clock: services.scheduling.slotClock).addRoutes(to: group)
    PortalReportController(services: services, pages: pages, logger: logger).addRoutes(to: group)
    PortalConsentController(services: services, pages: pages, clock: services.clock).addRoutes(to: group)
    PortalAdminController(services: services, pages: pages, clock: services.clock).addRoutes(to: group)
    PortalProfileController(services: services, pages: pages, cookies: cookies).addRoutes(to: group)
}
