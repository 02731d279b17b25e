import Mustache

/// The server-rendered pages: plain HTML and inline CSS, no JavaScript, readable on a phone and
/// working offline on the bureau's network. Mustache escapes every value it inserts.
enum PageTemplates {
    static let head = """
        <!doctype html>
        <html lang="zh-CN"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · SchoolSync</title>
        <style>
        body{font-family:system-ui,"Noto Sans CJK SC","PingFang SC",sans-serif;margin:0;padding:1rem;max-width:60rem;color:#1d2733}
        h1{font-size:1.3rem} h2{font-size:1.1rem;margin-top:1.5rem}
        .card{border:1px solid #d5dbe3;border-radius:8px;padding:.75rem;margin:.5rem 0}
        .name{font-weight:600} .muted{color:#5b6877;font-size:.9rem}
        .bar{position:relative;background:#eef1f5;height:1.1rem;border-radius:4px;margin:.4rem 0}
        .fill{position:absolute;left:0;top:0;bottom:0;border-radius:4px}
        .on_track .fill{background:#2e8b57} .behind .fill{background:#d9822b} .no_target .fill,.no_data .fill,.out_of_range .fill{background:#8a97a8}
        .target{position:absolute;top:-3px;bottom:-3px;width:2px;background:#1d2733}
        table{border-collapse:collapse;width:100%;font-size:.9rem} td,th{border-bottom:1px solid #e3e7ed;padding:.3rem;text-align:left}
        td.n,th.n{text-align:right} .error{color:#b3261e} input,button{font-size:1rem;padding:.4rem}
        .proposal{background:#f6f8fb} .pre{white-space:pre-wrap;overflow-wrap:anywhere}
        </style></head><body>
        """

    static let login = """
        {{> head}}
        <h1>SchoolSync 登录 / Sign in</h1>
        {{#error}}<p class="error">{{error}}</p>{{/error}}
        <form method="post" action="/login">
        <p><label>令牌 / Token<br><input name="token" type="password" autocomplete="off" size="40" required></label></p>
        <input type="hidden" name="next" value="{{next}}">
        <p><button type="submit">登录 / Sign in</button></p>
        </form>
        <p class="muted">Use the bureau or administrator token you were given. 使用区教育局或管理员令牌。</p>
        </body></html>
        """

    static let bureau = """
        {{> head}}
        <h1>{{period}} 指标完成情况</h1>
        <p class="muted">截止 {{due}} · 统计日 {{asOf}} · {{who}}
        · <a href="?period={{period}}&amp;format=csv">CSV</a> · <a href="/review?period={{period}}">报告审核 Review</a>
        <form method="post" action="/logout" style="display:inline"><input type="hidden" name="csrf" value="{{csrf}}"><button>退出</button></form></p>
        {{#conflicted}}<p class="error">{{conflicted}} 条记录存在冲突，未计入统计（等待管理员处理）。</p>{{/conflicted}}
        <h2>指标 Indicators</h2>
        {{#indicators}}
        <div class="card {{standing}}">
        <div class="name">{{name}}</div>
        <div class="muted">{{id}} · 目标 {{target}} · {{standingLabel}} · {{schools}} 校填报</div>
        <div class="bar" role="img" aria-label="{{value}} / {{target}}"><div class="fill" style="width:{{fill}}%"></div>{{#marker}}<div class="target" style="left:{{marker}}%"></div>{{/marker}}</div>
        <div><strong>{{value}}</strong>{{#ratio}} <span class="muted">({{ratio}})</span>{{/ratio}}</div>
        {{#hasTownships}}<table><tr><th>乡镇/街道</th><th class="n">数值</th><th class="n">填报学校</th></tr>
        {{#townships}}<tr><td>{{name}}</td><td class="n">{{value}}</td><td class="n">{{schools}}</td></tr>{{/townships}}</table>{{/hasTownships}}
        </div>
        {{/indicators}}
        {{^indicators}}<p class="muted">本期还没有指标数据。</p>{{/indicators}}
        <h2>措施 Measures</h2>
        <table><tr><th>措施</th><th class="n">分配</th><th class="n">已填</th><th class="n">已提交</th><th class="n">已审核</th><th class="n">逾期</th><th class="n">未填</th></tr>
        {{#measures}}<tr><td>{{title}}<br><span class="muted">{{id}}</span></td><td class="n">{{assigned}}</td><td class="n">{{reported}}</td><td class="n">{{submitted}}</td><td class="n">{{approved}}</td><td class="n">{{late}}</td><td class="n">{{missing}}</td></tr>{{/measures}}
        </table>
        </body></html>
        """

    static let conflicts = """
        {{> head}}
        <h1>冲突 Conflicts</h1>
        <p class="muted">{{who}} · <a href="/bureau">汇总 Summary</a></p>
        {{#message}}<p class="card">{{message}}</p>{{/message}}
        {{#conflicts}}
        <div class="card"><a class="name" href="/admin/conflicts/{{path}}">{{collection}} / {{id}}</a>
        <div class="muted">{{scope}} · {{what}} · {{detectedAt}}</div></div>
        {{/conflicts}}
        {{^conflicts}}<p class="muted">没有待处理的冲突。No open conflicts.</p>{{/conflicts}}
        </body></html>
        """

    static let conflict = """
        {{> head}}
        <h1>{{collection}} / {{id}}</h1>
        <p class="muted">{{scope}} · <a href="/admin/conflicts">全部冲突 All conflicts</a></p>
        {{#error}}<p class="error">{{error}}</p>{{/error}}
        {{#deletedBy}}<p class="card error">已被 {{deletedBy}} 删除，同时在其他设备上被编辑。Deleted on one device while edited on another.</p>{{/deletedBy}}
        {{#proposal}}
        <section class="card proposal"><h2>学校的建议 School's proposal</h2>
        {{#conflicted}}<p class="muted">建议本身也有冲突，以下是每个值。The proposal is in conflict too; here is every value.</p>{{/conflicted}}
        {{#texts}}<p class="pre">{{text}}</p>{{/texts}}
        <p class="muted">建议不会解决冲突，请在下面选择。A proposal settles nothing; choose below.</p>
        </section>
        {{/proposal}}
        <form method="post" action="/admin/conflicts/{{path}}">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="seen" value="{{seen}}">
        {{#fields}}
        <div class="card"><div class="name">{{name}}</div>
        {{#candidates}}<p><label><input type="radio" name="choice.{{field}}" value="{{index}}" {{#first}}checked{{/first}}> «{{value}}» <span class="muted">— {{writer}}</span></label></p>{{/candidates}}
        <p><label><input type="radio" name="choice.{{name}}" value="new"> 新值 New value: <input name="new.{{name}}" size="30"></label></p>
        </div>
        {{/fields}}
        {{#deleteConflict}}
        <div class="card"><div class="name">保留还是删除 Keep or delete</div>
        <p><label><input type="radio" name="outcome" value="keep" checked> 保留，使用最后内容 Keep with its last content: {{lastContent}}</label></p>
        <p><label><input type="radio" name="outcome" value="delete"> 删除 Delete</label></p></div>
        {{/deleteConflict}}
        {{#settled}}<p class="muted">{{name}}: {{value}}</p>{{/settled}}
        <p><label>理由 Reason (required)<br><input name="reason" size="50" required></label></p>
        <p><button type="submit">解决 Resolve</button></p>
        </form>
        </body></html>
        """

    /// The compiled library; the templates are constants, so a failure here is a programming error caught by the tests.
    static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        try library.register(head, named: "head")
        try library.register(login, named: "login")
        try library.register(bureau, named: "bureau")
        try library.register(conflicts, named: "conflicts")
        try library.register(conflict, named: "conflict")
        try library.register(review, named: "review")
        try library.register(reviewReport, named: "reviewReport")
        try library.register(pageProblem, named: "pageProblem")
        return library
    }
}
