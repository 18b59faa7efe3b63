// APIServer+Dashboard: the web dashboard's pages: login with a token (a signed session cookie,
// HttpOnly, SameSite=Strict), logout, and the single page at `/` that reads the JSON API with
// the cookie and follows `/v1/events` for live updates.

import Foundation
import HTTPTypes
import Hummingbird

extension APIServer {
    var dashboardRoutes: [Route] {
        [
            Route(method: .get, path: "/", scope: nil) { [self] _, _, caller in
                guard let session = caller.session else { return redirect("/login") }
                return html(DashboardPage.render(csrf: sessions.csrfToken(for: session), scopes: session.scopes.sorted().map(\.rawValue)))
            },
            Route(method: .get, path: "/login", scope: nil) { [self] _, _, _ in
                html(DashboardPage.login(error: nil))
            },
            Route(method: .post, path: "/login", scope: nil) { [self] request, _, _ in
                let body = String(decoding: try await bodyBytes(request), as: UTF8.self)
                let token = Self.formValue(body, "token") ?? ""
                guard !token.isEmpty, let holder = configuration.tokens.holder(of: token) else {
                    return html(DashboardPage.login(error: "That token is not valid."), .unauthorized)
                }
                let (_, cookie) = sessions.issue(name: holder.name, scopes: holder.scopes)
                var response = redirect("/")
                response.setCookie(Cookie(name: DashboardSession.cookieName, value: cookie,
                                          maxAge: Int(sessions.lifetime.components.seconds), path: "/",
                                          secure: configuration.secureCookies, httpOnly: true, sameSite: .strict))
                return response
            },
            Route(method: .post, path: "/logout", scope: nil) { [self] _, _, _ in
                var response = redirect("/login")
                response.setCookie(Cookie(name: DashboardSession.cookieName, value: "", maxAge: 0, path: "/",
                                          secure: configuration.secureCookies, httpOnly: true, sameSite: .strict))
                return response
            },
        ]
    }

    func redirect(_ location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        return Response(status: .seeOther, headers: headers)
    }

    func html(_ text: String, _ status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("Content-Security-Policy")!] = "default-src 'self'; img-src 'self' data:; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// One field of an `application/x-www-form-urlencoded` body.
    static func formValue(_ body: String, _ name: String) -> String? {
        for pair in body.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2, kv[0] == name else { continue }
            return kv[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }
}
