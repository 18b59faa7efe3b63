// DemoVocabulary: the word lists and fixed JSON fragments the demo generator draws from. Kept
// as constants so that generating a row mostly picks prepared strings instead of building new
// ones (millions of rows per minute), and lower-case where the schema's CHECKs require it.

enum DemoVocabulary {
    static let firstNames = [
        "alice", "bruno", "carla", "deepak", "elena", "farid", "grace", "hiro", "ines", "jonas", "kemi", "lucas",
        "maria", "nikhil", "olga", "pedro", "quinn", "rosa", "samir", "tanya", "umar", "vera", "wei", "ximena",
        "yusuf", "zoe", "amara", "ben", "chloe", "diego", "emma", "felix", "hana", "ivan", "julia", "kai",
    ]
    static let lastNames = [
        "smith", "garcia", "nguyen", "mueller", "rossi", "kowalski", "silva", "tanaka", "okafor", "dubois",
        "patel", "johansson", "kim", "lopez", "brown", "novak", "fischer", "haddad", "ivanova", "murphy",
        "schmidt", "costa", "yilmaz", "olsen", "chen", "martin", "wilson", "moreau", "sato", "reyes",
    ]
    static let mailDomains = [
        "gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "acme-corp.com", "globex.io",
        "initech.com", "umbrella.co", "hooli.com", "stark-industries.com", "wayne-enterprises.com",
    ]
    static let companies = [
        "Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises",
        "Soylent", "Vandelay Industries", "Wonka", "Cyberdyne", "Tyrell", "Aperture", "Black Mesa", "Pied Piper",
    ]
    static let titles = [
        "CEO", "CTO", "VP Marketing", "Marketing Manager", "Growth Lead", "Sales Director", "Founder",
        "Head of Operations", "Product Manager", "Engineer", "Consultant", "Account Executive",
    ]
    static let sources = ["import", "web_form", "api", "csv_upload", "integration", "manual", "landing_page", "referral"]
    static let tags = [
        "newsletter", "customer", "trial", "webinar", "vip", "churn_risk", "enterprise", "smb", "partner",
        "event_2025", "event_2026", "beta", "high_intent", "cold", "re_engaged", "eu", "us", "apac", "ebook", "demo_request",
    ]
    static let industries = ["saas", "ecommerce", "finance", "healthcare", "education", "media", "manufacturing", "nonprofit"]
    static let companySizes = ["1-10", "11-50", "51-200", "201-1000", "1000+"]
    static let countries = ["US", "GB", "DE", "FR", "BR", "IN", "JP", "CA", "AU", "NL", "ES", "NG"]
    static let lifecycleStages = ["subscriber", "lead", "mql", "sql", "opportunity", "customer"]

    /// Lead status and its share: most leads are mailable.
    static let leadStatuses = ["active", "verified", "unsubscribed", "bounced", "invalid"]
    static let leadStatusCumulative = [0.62, 0.82, 0.90, 0.96, 1.0]

    static let workspaceAdjectives = ["bright", "north", "swift", "blue", "quiet", "bold", "green", "silver", "clever", "urban"]
    static let workspaceNouns = ["harbor", "labs", "studio", "works", "media", "digital", "goods", "health", "learning", "ventures"]
    static let plans = ["free", "starter", "pro", "enterprise"]
    static let planCumulative = [0.40, 0.70, 0.92, 1.0]

    static let campaignThemes = [
        "Monthly Newsletter", "Product Update", "Spring Sale", "Webinar Invite", "Onboarding Tips", "Black Friday",
        "Customer Story", "Feature Launch", "Re-engagement", "Holiday Greetings", "Case Study", "Event Recap",
    ]
    static let subjects = [
        "What's new this month", "You're invited", "Last chance: 30% off", "Tips to get more out of your account",
        "We built this for you", "Your weekly digest", "Don't miss out", "A quick question", "Thanks for being with us",
    ]

    static let userAgents = [
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
        "Microsoft Outlook 16.0", "GoogleImageProxy",
    ]
    static let openMetadata = [
        #"{"device": "mobile", "client": "apple_mail"}"#, #"{"device": "desktop", "client": "gmail"}"#,
        #"{"device": "desktop", "client": "outlook"}"#, #"{"device": "mobile", "client": "gmail"}"#,
        #"{"device": "tablet", "client": "apple_mail"}"#, #"{"device": "proxy", "client": "gmail_image_proxy"}"#,
    ]
    static let clickPaths = ["/pricing", "/blog/latest", "/webinar", "/offer", "/docs/getting-started", "/case-studies", "/signup"]
    static let hardBounceMetadata = #"{"smtp_code": 550, "diagnostic": "5.1.1 user unknown"}"#
    static let softBounceMetadata = [
        #"{"smtp_code": 452, "diagnostic": "4.2.2 mailbox full"}"#, #"{"smtp_code": 421, "diagnostic": "4.7.0 try again later"}"#,
    ]
    static let complaintMetadata = #"{"feedback_type": "abuse"}"#
    static let unsubscribeMetadata = [#"{"method": "list_unsubscribe"}"#, #"{"method": "footer_link"}"#]
    static let emptyJSON = "{}"

    static let activityTypes = [
        "created", "email_opened", "email_clicked", "email_replied", "status_changed", "note_added",
        "tag_added", "form_submitted", "meeting_booked", "call_logged", "page_viewed",
    ]
    static let activityCumulative = [0.10, 0.35, 0.47, 0.50, 0.55, 0.62, 0.70, 0.78, 0.81, 0.85, 1.0]
    static let activityDetails: [[String]] = [
        [#"{"source": "import"}"#, #"{"source": "web_form"}"#, #"{"source": "api"}"#],
        [#"{"client": "gmail"}"#, #"{"client": "apple_mail"}"#, #"{"client": "outlook"}"#],
        [#"{"url": "/pricing"}"#, #"{"url": "/offer"}"#, #"{"url": "/webinar"}"#],
        [#"{"sentiment": "positive"}"#, #"{"sentiment": "neutral"}"#, #"{"sentiment": "negative"}"#],
        [#"{"from": "active", "to": "verified"}"#, #"{"from": "active", "to": "unsubscribed"}"#],
        [#"{"note": "Asked for a demo next quarter"}"#, #"{"note": "Budget approved"}"#, #"{"note": "Follow up in two weeks"}"#],
        [#"{"tag": "vip"}"#, #"{"tag": "high_intent"}"#, #"{"tag": "webinar"}"#],
        [#"{"form": "newsletter_signup"}"#, #"{"form": "contact_us"}"#, #"{"form": "ebook_download"}"#],
        [#"{"duration_min": 30}"#, #"{"duration_min": 45}"#],
        [#"{"outcome": "left_voicemail"}"#, #"{"outcome": "connected"}"#],
        [#"{"path": "/pricing"}"#, #"{"path": "/features"}"#, #"{"path": "/blog"}"#],
    ]
    static let aiFeatures = ["subject_line", "email_body", "lead_enrichment", "reply_classification", "segment_suggestion"]
    static let sendErrors = ["421 4.7.0 temporary failure", "connection timed out", "550 5.7.1 rejected by policy"]
}
