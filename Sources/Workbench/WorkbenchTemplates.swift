import Mustache

/// The workbench's pages: plain HTML and inline CSS, no JavaScript, Chinese first, readable in an
/// old browser and at phone width. Mustache escapes every value it inserts. Every form carries the
/// process's CSRF token. A `<textarea>` starts with a line break, since HTML drops the first one
/// after the tag: a value that starts with a line break keeps it.
enum WorkbenchTemplates {
    static let head = """
        <!doctype html>
        <html lang="zh-CN"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{pageTitle}} · 学校工作台</title>
        <style>
        body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:0;padding:.75rem;max-width:48rem;color:#1d2733;line-height:1.45}
        h1{font-size:1.25rem;margin:.5rem 0} h2{font-size:1.05rem;margin:1.2rem 0 .4rem} h3{font-size:1rem;margin:.8rem 0 .3rem}
        .card{border:1px solid #d5dbe3;border-radius:6px;padding:.6rem;margin:.45rem 0}
        .name{font-weight:600} .muted{color:#5b6877;font-size:.9rem} .error{color:#b3261e} .ok{color:#1e6b3a}
        .badge{display:inline-block;font-size:.8rem;padding:0 .35rem;border-radius:4px;border:1px solid #aab4c0;margin-right:.2rem;white-space:nowrap}
        .late{border-color:#b3261e;color:#b3261e} .returned{border-color:#d9822b;color:#8a4b00} .approved{border-color:#2e8b57;color:#1e6b3a}
        .waiting{border-color:#3b6fb6;color:#234f8a} .conflict{border-color:#7a3fb0;color:#5a2a87}
        .status{background:#f3f5f8;border:1px solid #d5dbe3;border-radius:6px;padding:.5rem;font-size:.9rem;margin:.4rem 0}
        .status form{display:inline} label{display:block;margin:.3rem 0}
        input,select,textarea,button{font-size:1rem;padding:.35rem;max-width:100%;box-sizing:border-box}
        textarea{width:100%} input.num{width:7rem} button{cursor:pointer}
        .side{display:flex;flex-wrap:wrap;gap:.5rem} .side>div{flex:1 1 14rem;border:1px dashed #aab4c0;border-radius:6px;padding:.4rem}
        .proposal{white-space:pre-wrap;background:#f7f2fb;border-radius:6px;padding:.4rem}
        a{color:#234f8a}
        </style></head><body>
        <div class="status" id="status">
        <strong>学校工作台</strong> {{#status.school}}· {{status.school}}{{/status.school}} · <a href="/">首页</a> · <a href="/status">同步情况</a><br>
        上次同步：{{status.lastSync}} · 服务器：{{#status.reachable}}<span class="ok">可连接</span>{{/status.reachable}}{{^status.reachable}}<span class="error">{{status.reachability}}</span>{{/status.reachable}}
        · 待发送：<strong id="pending">{{status.pending}}</strong> 条
        {{#status.refused}}· <a class="error" href="/status">被拒收 {{status.refused}} 条</a>{{/status.refused}}
        {{#status.conflicts}}· <a class="error" href="/status">冲突 {{status.conflicts}} 条</a>{{/status.conflicts}}
        {{#status.filesWaiting}}· 待上传文件 {{status.filesWaiting}} 个{{/status.filesWaiting}}
        {{#status.lastError}}<br><span class="error">上次同步失败：{{status.lastError}}</span>{{/status.lastError}}
        <form method="post" action="/sync"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}">
        <button type="submit" id="sync">立即同步 Sync</button></form>
        </div>
        {{#notice}}<p class="card ok" id="notice">{{notice}}</p>{{/notice}}
        {{#problem}}<p class="card error" id="problem">{{problem}}</p>{{/problem}}
        """

    static let home = """
        {{> head}}
        <h1>{{period}} 本校措施</h1>
        <p class="muted">{{#due}}截止日期 {{due}} · {{/due}}共 {{count}} 项{{#late}} · <span class="error">逾期 {{late}} 项</span>{{/late}}
        {{#periods}} · <a href="/?period={{id}}">{{id}}</a>{{/periods}}</p>
        {{#plans}}
        <h2>{{title}}</h2>
        {{#areas}}{{#title}}<h3>{{title}}</h3>{{/title}}
        {{#items}}
        <div class="card"><a class="name" href="/report?period={{period}}&amp;measure={{measureParam}}">{{code}} {{title}}</a>
        <div>{{#late}}<span class="badge late">逾期</span>{{/late}}<span class="badge {{workflow}}">{{workflowLabel}}</span>{{#waiting}}<span class="badge waiting">待发送</span>{{/waiting}}{{#conflicted}}<span class="badge conflict">有冲突</span>{{/conflicted}}{{#refused}}<span class="badge late">被拒收</span>{{/refused}}
        <span class="muted">{{area}}{{#leadUnit}} · 牵头：{{leadUnit}}{{/leadUnit}}{{#due}} · 截止 {{due}}{{/due}}</span></div>
        {{#reviewComment}}<div class="returned">教育局退回意见：{{reviewComment}}</div>{{/reviewComment}}
        </div>
        {{/items}}
        {{/areas}}
        {{/plans}}
        {{^plans}}<p class="muted">本期没有分配给本校的措施。如果刚登记，请先点“立即同步”获取计划。</p>{{/plans}}
        </body></html>
        """

    static let report = """
        {{> head}}
        <p class="muted"><a href="/?period={{period}}">← {{period}} 本校措施</a> · {{planTitle}}</p>
        <h1>{{code}} {{title}}</h1>
        <p class="muted">{{#leadUnit}}牵头：{{leadUnit}} · {{/leadUnit}}{{#due}}截止 {{due}} · {{/due}}流程：<span class="badge {{workflow}}" id="workflow">{{workflowLabel}}</span>{{#waiting}}<span class="badge waiting">待发送</span>{{/waiting}}</p>
        {{#summary}}<p class="muted">{{summary}}</p>{{/summary}}
        {{#reviewComment}}<p class="card returned" id="review-comment">教育局退回意见：{{reviewComment}}{{#reviewer}}（{{reviewer}}）{{/reviewer}}</p>{{/reviewComment}}
        {{#locked}}<p class="card approved">已审核通过，报告已锁定。如需修改，请联系教育局退回。</p>{{/locked}}
        {{#rejections}}<div class="card error">服务器拒收了这份报告的一条记录：{{message}}
        <form method="post" action="/discard"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="collection" value="{{collection}}"><input type="hidden" name="id" value="{{id}}"><input type="hidden" name="id64" value="{{id64}}"><input type="hidden" name="back" value="{{back}}">
        改正下面的内容后保存，或者 <button type="submit">放弃本机的修改</button>（恢复为服务器上的内容）</form></div>{{/rejections}}
        {{#hasConflicts}}
        <h2>冲突（等待管理员处理）</h2>
        <p class="muted">同一项在两台设备上被改成了不同的值。学校不能自行决定，由管理员处理；你可以写下处理建议，管理员处理时会看到。</p>
        <form method="post" action="/report/propose">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="seen" value="{{seen}}">
        <input type="hidden" name="period" value="{{period}}"><input type="hidden" name="measure" value="{{measure}}">
        {{#conflicts}}
        <div class="card"><div class="name">{{label}}</div><div class="side">
        {{#candidates}}<div><label><input type="radio" name="prefer.{{index}}" value="{{choice}}"{{#chosen}} checked{{/chosen}}> «{{value}}»</label><span class="muted">{{writer}}</span></div>{{/candidates}}
        </div></div>
        {{/conflicts}}
        {{#proposals}}<p class="muted">已提交的建议：</p><div class="proposal" id="proposal">{{.}}</div>{{/proposals}}
        <label>处理建议（会同时写明你选择的值）<textarea name="proposal" rows="3" maxlength="2000" placeholder="例如：采用教务处的数字，另一台电脑上的是旧数据。">\n{{proposalTyped}}</textarea></label>
        <button type="submit" id="propose">提交处理建议</button>
        </form>
        {{/hasConflicts}}
        <h2>填写报告</h2>
        <form method="post" action="/report/save" id="report-form">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="seen" value="{{seen}}">
        <input type="hidden" name="period" value="{{period}}"><input type="hidden" name="measure" value="{{measure}}">
        <label>进展情况 {{#statusConflicted}}<span class="badge conflict">有冲突</span>{{/statusConflicted}}
        <select name="status" {{#readonly}}disabled{{/readonly}}{{#statusConflicted}} disabled{{/statusConflicted}}>
        {{#statuses}}<option value="{{value}}" {{#selected}}selected{{/selected}}>{{label}}</option>{{/statuses}}
        </select></label>
        {{#problems.status}}<p class="error">{{problems.status}}</p>{{/problems.status}}
        <label>工作说明 {{#narrativeConflicted}}<span class="badge conflict">有冲突</span>{{/narrativeConflicted}}
        <textarea name="narrative" rows="5" {{#readonly}}readonly{{/readonly}}{{#narrativeConflicted}} readonly{{/narrativeConflicted}}>\n{{narrative}}</textarea></label>
        {{#problems.narrative}}<p class="error">{{problems.narrative}}</p>{{/problems.narrative}}
        <h3>指标</h3>
        {{#indicators}}
        <div class="card" id="indicator-{{index}}"><div class="name">{{name}}</div>
        <div class="muted">{{#target}}目标 {{comparisonLabel}} {{target}}{{unit}}{{#approx}}（约）{{/approx}}{{#deadline}} · {{deadline}} 前{{/deadline}}{{/target}}{{^target}}无量化目标{{/target}} · {{kindLabel}}</div>
        {{#conflicted}}<p class="conflict">有冲突，等待管理员处理（见上方）。</p>{{/conflicted}}
        {{^conflicted}}
        {{#isRatio}}<label>分子 <input class="num" name="n:{{id}}" value="{{numerator}}" inputmode="decimal" {{#readonly}}readonly{{/readonly}}></label>
        <label>分母 <input class="num" name="d:{{id}}" value="{{denominator}}" inputmode="decimal" {{#readonly}}readonly{{/readonly}}></label>
        {{#percentage}}<div>= <strong class="percentage">{{percentage}}</strong></div>{{/percentage}}{{/isRatio}}
        {{#isFlag}}<label><select name="f:{{id}}" {{#readonly}}disabled{{/readonly}}><option value="">（未填）</option><option value="true" {{#yes}}selected{{/yes}}>是 已完成</option><option value="false" {{#no}}selected{{/no}}>否 未完成</option></select></label>{{/isFlag}}
        {{#isNumber}}<label>数值 <input class="num" name="v:{{id}}" value="{{number}}" inputmode="decimal" {{#readonly}}readonly{{/readonly}}> {{unit}}</label>{{/isNumber}}
        {{/conflicted}}
        {{#problem}}<p class="error">{{problem}}</p>{{/problem}}
        </div>
        {{/indicators}}
        {{^indicators}}<p class="muted">这项措施没有量化指标。</p>{{/indicators}}
        {{^readonly}}<p><button type="submit" id="save">保存（离线也可以）</button> <span class="muted">保存在本机，同步时发送。</span></p>{{/readonly}}
        </form>
        <h3>佐证材料</h3>
        {{#evidence}}<div class="card">{{name}} <span class="muted">{{size}} · {{state}}</span>
        {{^readonly}}<form method="post" action="/report/evidence/remove" style="display:inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="seen" value="{{seen}}"><input type="hidden" name="period" value="{{period}}"><input type="hidden" name="measure" value="{{measure}}"><input type="hidden" name="sha256" value="{{sha256}}"><button type="submit">移除</button></form>{{/readonly}}</div>{{/evidence}}
        {{^evidence}}<p class="muted">还没有佐证材料。</p>{{/evidence}}
        {{^readonly}}{{^evidenceConflicted}}<form method="post" action="/report/evidence" enctype="multipart/form-data">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="seen" value="{{seen}}">
        <input type="hidden" name="period" value="{{period}}"><input type="hidden" name="measure" value="{{measure}}">
        <label>选择文件（照片、PDF、Word、Excel、PPT，每个不超过25MB）<input type="file" name="file" required></label>
        <button type="submit" id="attach">添加</button> <span class="muted">文件先保存在本机，同步时上传。</span></form>{{/evidenceConflicted}}{{/readonly}}
        <h2>提交</h2>
        {{#canSubmit}}<form method="post" action="/report/submit"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="seen" value="{{seen}}">
        <input type="hidden" name="period" value="{{period}}"><input type="hidden" name="measure" value="{{measure}}">
        <p class="muted">提交后教育局才能审核。提交前请先保存上面的修改。</p>
        <button type="submit" id="submit">提交给教育局</button></form>{{/canSubmit}}
        {{^canSubmit}}<p class="muted">{{submitNote}}</p>{{/canSubmit}}
        </body></html>
        """

    static let status = """
        {{> head}}
        <h1>同步情况</h1>
        <p class="muted">服务器 {{server}} · 本机 {{device}}{{#lastAttempt}} · 上次尝试 {{lastAttempt}}{{/lastAttempt}}</p>
        <h2>被拒收的记录</h2>
        {{#refused}}<div class="card"><div class="name">{{what}}</div><div class="error">{{message}}</div>
        <div class="muted">{{code}}{{#since}} · {{since}}{{/since}}</div>
        {{#fix}}<a href="{{fix}}">去改正</a> 或 {{/fix}}<form method="post" action="/discard" style="display:inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="collection" value="{{collection}}"><input type="hidden" name="id" value="{{id}}"><input type="hidden" name="id64" value="{{id64}}"><input type="hidden" name="back" value="/status">
        <button type="submit">放弃本机的修改</button></form></div>{{/refused}}
        {{^refused}}<p class="muted">没有被拒收的记录。</p>{{/refused}}
        <h2>冲突</h2>
        {{#conflicts}}<div class="card"><div class="name">{{what}}</div><div class="muted">{{fields}}</div>{{#fix}}<a href="{{fix}}">查看并提出处理建议</a>{{/fix}}</div>{{/conflicts}}
        {{^conflicts}}<p class="muted">没有冲突。</p>{{/conflicts}}
        <h2>佐证材料</h2>
        {{#files}}<div class="card">{{name}} <span class="muted">{{size}} · {{state}}</span></div>{{/files}}
        {{^files}}<p class="muted">没有待上传的文件。</p>{{/files}}
        </body></html>
        """

    static let problemPage = """
        {{> head}}
        <h1>{{heading}}</h1>
        <p>{{message}}</p>
        <p><a href="/">返回首页</a></p>
        </body></html>
        """

    static let bare = """
        <!doctype html>
        <html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>学校工作台</title></head>
        <body style="font-family:sans-serif;padding:1rem"><h1>{{heading}}</h1><p>{{message}}</p></body></html>
        """

    /// The compiled library; the templates are constants, so a failure is a programming error the tests catch.
    static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        try library.register(head, named: "head")
        try library.register(home, named: "home")
        try library.register(report, named: "report")
        try library.register(status, named: "status")
        try library.register(problemPage, named: "problem")
        try library.register(bare, named: "bare")
        return library
    }
}
