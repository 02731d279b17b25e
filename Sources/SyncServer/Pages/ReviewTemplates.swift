extension PageTemplates {
    /// A period's reports for the bureau to review, filtered and paged; each row links to its report.
    static let review = """
        {{> head}}
        <h1>{{period}} 报告审核 Review</h1>
        <p class="muted">{{who}} · <a href="/bureau?period={{period}}">汇总 Summary</a>
        <form method="post" action="/logout" style="display:inline"><input type="hidden" name="csrf" value="{{csrf}}"><button>退出</button></form></p>
        <form method="get" action="/review" class="card">
        <input type="hidden" name="period" value="{{period}}">
        <p><label>措施 Measure<br><select name="measure" style="max-width:100%"><option value="">全部 All</option>{{#measures}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/measures}}</select></label></p>
        <p><label>学校 School<br><select name="school" style="max-width:100%"><option value="">全部 All</option>{{#schools}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/schools}}</select></label></p>
        <p><label>乡镇/街道 Township<br><select name="township" style="max-width:100%"><option value="">全部 All</option>{{#townships}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/townships}}</select></label></p>
        <p><label>状态 State<br><select name="state"><option value="">全部 All</option>{{#states}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/states}}</select></label></p>
        <p><button type="submit">筛选 Filter</button></p>
        </form>
        <p class="muted">共 {{total}} 条 · 第 {{page}} / {{pages}} 页 · {{total}} reports, page {{page}} of {{pages}}</p>
        {{#rows}}
        <div class="card">{{#link}}<a class="name" href="/review/reports/{{link}}">{{schoolName}} · {{measureTitle}}</a>{{/link}}{{^link}}<span class="name">{{schoolName}} · {{measureTitle}}</span>{{/link}}
        <div class="muted">{{township}} · {{measure}} · {{stateLabel}}{{#late}} · <span class="error">逾期 late</span>{{/late}}</div></div>
        {{/rows}}
        {{^rows}}<p class="muted">没有符合条件的报告。No reports match.</p>{{/rows}}
        <p>{{#previous}}<a href="/review?{{previous}}">← 上一页 Previous</a>{{/previous}} {{#next}}<a href="/review?{{next}}">下一页 Next →</a>{{/next}}</p>
        </body></html>
        """

    /// One report: its content, indicator values against targets, evidence, the review forms and its history.
    static let reviewReport = """
        {{> head}}
        <h1>{{schoolName}} · {{measureTitle}}</h1>
        <p class="muted">{{period}} · {{reportID}} · <a href="/review?period={{period}}">全部报告 All reports</a>
        <form method="post" action="/logout" style="display:inline"><input type="hidden" name="csrf" value="{{csrf}}"><button>退出</button></form></p>
        {{#message}}<p class="card">{{message}}</p>{{/message}}
        {{#error}}<p class="card error">{{error}}</p>{{/error}}
        <div class="card">
        <p><span class="name">审核 Workflow:</span> {{workflowLabel}}</p>
        <p><span class="name">进展 Status:</span> {{status}}</p>
        {{#submittedAt}}<p class="muted">提交 Submitted {{submittedAt}}</p>{{/submittedAt}}
        {{#author}}<p class="muted">填报 Author: {{author}}</p>{{/author}}
        {{#reviewComment}}<p><span class="name">退回意见 Comment:</span> {{reviewComment}}</p>{{/reviewComment}}
        {{#reviewer}}<p class="muted">审核人 Reviewer: {{reviewer}}</p>{{/reviewer}}
        {{#conflicted}}<p class="error">该报告存在冲突，需管理员先处理。In conflict: an administrator must resolve it first.</p>{{/conflicted}}
        </div>
        <h2>情况说明 Narrative</h2>
        <p style="white-space:pre-wrap">{{narrative}}</p>
        <h2>指标 Indicators</h2>
        <table><tr><th>指标 Indicator</th><th class="n">填报 Value</th><th class="n">目标 Target</th></tr>
        {{#indicators}}<tr><td>{{name}}<br><span class="muted">{{id}}</span></td><td class="n">{{value}}</td><td class="n">{{target}}</td></tr>{{/indicators}}
        </table>
        {{^indicators}}<p class="muted">这项措施没有指标。No indicators.</p>{{/indicators}}
        <h2>佐证材料 Evidence</h2>
        {{#evidence}}<div class="card">
        {{#image}}<img src="/review/evidence/{{sha256}}" alt="{{name}}" style="max-width:100%">{{/image}}
        {{#download}}<a href="/review/evidence/{{sha256}}" download="{{name}}">下载 Download</a>{{/download}}
        {{#pending}}<span class="error">待上传 pending upload</span>{{/pending}}
        <div class="muted">{{name}}{{#type}} · {{type}}{{/type}} · {{shortHash}}</div></div>
        {{/evidence}}
        {{^evidence}}<p class="muted">没有佐证材料。No evidence.</p>{{/evidence}}
        {{#canApprove}}<form method="post" action="/review/reports/{{path}}" class="card">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="seen" value="{{seen}}"><input type="hidden" name="action" value="approve">
        <p><button type="submit">通过 Approve</button></p></form>{{/canApprove}}
        {{#canReturn}}<form method="post" action="/review/reports/{{path}}" class="card">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="seen" value="{{seen}}"><input type="hidden" name="action" value="return">
        <p><label>退回意见 Comment (required)<br><textarea name="comment" rows="3" style="width:100%;box-sizing:border-box" required></textarea></label></p>
        <p><button type="submit">退回 Return to the school</button></p></form>{{/canReturn}}
        <h2>历史 History</h2>
        <table><tr><th>时间 When</th><th>谁 Who</th><th>改动 Change</th></tr>
        {{#history}}<tr><td>{{at}}</td><td>{{who}}</td><td style="word-break:break-all">{{what}}</td></tr>{{/history}}
        </table>
        {{#moreHistory}}<p class="muted">只显示最早的 {{historyShown}} 条；完整历史见 GET /v1/history。Only the first {{historyShown}} entries are shown.</p>{{/moreHistory}}
        </body></html>
        """

    /// A page that could not be shown, with why (a bad link or filter, a report that does not exist).
    static let pageProblem = """
        {{> head}}
        <h1>{{title}}</h1>
        <p class="error">{{error}}</p>
        <p><a href="{{back}}">返回 Back</a></p>
        </body></html>
        """
}
