"""Interface texts in zh-CN (default) and English."""

from __future__ import annotations

__all__ = ["LANGS", "DEFAULT_LANG", "translate", "pick_lang"]

LANGS = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"

# key -> (zh-CN, en)
_TEXTS: dict[str, tuple[str, str]] = {
    "app.title": ("特种设备质量安全数据共享平台", "Special-equipment QC data sharing"),
    "nav.overview": ("总览", "Overview"), "nav.contracts": ("合约", "Contracts"), "nav.records": ("数据记录", "Records"),
    "nav.sharing": ("共享授权", "Sharing"), "nav.riskmap": ("风险四色图", "Risk map"),
    "nav.ingestion": ("数据接入", "Ingestion"), "nav.audit": ("审计", "Audit"), "nav.logout": ("退出", "Log out"),
    "login.title": ("登录", "Log in"), "login.user": ("用户名", "User name"), "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "role.admin": ("机构管理员", "org admin"), "role.operator": ("操作员", "operator"),
    "role.auditor": ("审计员", "auditor"), "role.viewer": ("查看者", "viewer"),
    "ov.channels": ("通道与区块高度", "Channels and heights"), "ov.height": ("高度", "height"),
    "ov.nodes": ("节点登记与健康", "Node registry and health"), "ov.peer": ("本机构节点", "Our peer"),
    "ov.certs": ("即将到期的证书", "Certificates expiring"), "ov.within": ("天内", "days"),
    "ov.ingest": ("近24小时接入", "Ingestion, last 24 h"), "ov.warnings": ("未关闭预警（按颜色）", "Open warnings by colour"),
    "ov.none": ("无", "none"), "ov.reachable": ("可达", "reachable"), "ov.unreachable": ("不可达", "unreachable"),
    "ct.units": ("合约生命周期", "Contract lifecycle"), "ct.state": ("状态", "state"), "ct.version": ("版本", "version"),
    "ct.digest": ("包摘要", "package digest"), "ct.pending": ("待决提案", "Pending proposals"),
    "ct.history": ("提案历史", "Proposal history"), "ct.upload": ("上传已签名提案", "Upload a signed proposal"),
    "ct.execute": ("执行", "Execute"), "ct.signed": ("已签", "signed"), "ct.needed": ("门限", "threshold"),
    "ct.uploaded": ("已上传的提案", "Uploaded proposals"), "ct.met": ("已达门限", "threshold met"),
    "ct.notmet": ("未达门限", "under threshold"),
    "ct.sign": ("以本机构签名", "Sign for this org"), "ct.propose": ("发起提案并签名", "Open a proposal and sign"),
    "ct.operation": ("操作", "operation"), "ct.hours": ("有效期（小时）", "valid for (hours)"),
    "rec.search": ("查询", "Search"), "rec.index": ("检索项", "index"), "rec.value": ("值", "value"),
    "rec.equipment": ("设备代码", "equipment code"), "rec.category": ("类别", "category"), "rec.stage": ("环节", "stage"),
    "rec.unit": ("单位", "unit"), "rec.grade": ("分级", "grade"), "rec.from": ("起始日期", "from"),
    "rec.to": ("截止日期", "to"), "rec.next": ("下一页", "next page"), "rec.id": ("记录编号", "record"),
    "rec.owner": ("所有者", "owner"), "rec.placement": ("存放", "placement"), "rec.at": ("时间", "time"),
    "rec.history": ("历史版本", "History"), "rec.verified": ("已验证", "verified"),
    "rec.failed": ("验证失败", "verification failed"), "rec.payload": ("内容", "Content"),
    "rec.encrypted": ("L3 加密内容：本机构无数据密钥", "L3 encrypted: no data key for this organisation"),
    "rec.decrypted": ("L3 已解密（本机构有权）", "L3 decrypted (this organisation is entitled)"),
    "rec.offchain": ("L4 原件在链下，链上仅存 SM3 摘要", "L4 original off chain; the chain keeps its SM3 digest"),
    "rec.masked": ("个人信息已脱敏", "personal fields masked"), "rec.none": ("无记录", "no records"),
    "sh.given": ("我方给出的授权", "Grants given"), "sh.received": ("我方获得的授权", "Grants received"),
    "sh.requests": ("待审批的申请", "Requests to decide"), "sh.approve": ("批准", "Approve"),
    "sh.reject": ("拒绝", "Reject"), "sh.revoke": ("撤销", "Revoke"), "sh.log": ("访问日志", "Access log"),
    "sh.check": ("共享检查结果", "Sharing check findings"), "sh.reason": ("理由", "reason"),
    "sh.all": ("全部授权（监管视图）", "All grants (supervisory view)"),
    "risk.title": ("风险四色分布图", "Four-colour risk map"), "risk.major": ("重大风险", "major"),
    "risk.larger": ("较大风险", "larger"), "risk.general": ("一般风险", "general"), "risk.low": ("低风险", "low"),
    "risk.city": ("市", "city"), "risk.area": ("区", "area"), "risk.filter": ("筛选", "Filter"),
    "risk.dangers": ("事故隐患", "Hidden dangers"), "risk.overdue": ("已逾期", "overdue"),
    "risk.limit": ("整改期限", "deadline"), "risk.state": ("整改状态", "rectification"),
    "ing.none": ("未配置数据接入服务（serve --ingest-url --ingest-key-file）",
                 "The ingestion service is not configured (serve --ingest-url --ingest-key-file)"),
    "ing.server": ("数据接入服务", "Ingestion server"), "ing.units": ("各单位、各表的批次", "Batches per unit and txcode"),
    "ing.unit": ("使用单位", "using unit"), "ing.batches": ("批次", "batches"), "ing.records": ("记录数", "records"),
    "ing.last": ("最近批次", "last batch"), "ing.batchlist": ("最近的批次（逐批核对链上批次头）", "Newest batches (each checked against its header on chain)"),
    "ing.all": ("全部", "all"), "ing.onchain": ("链上", "on chain"), "ing.refusals": ("被拒绝的批次及原因", "Refused batches and their reasons"),
    "ing.refused24": ("近24小时被拒绝", "refused in the last 24 h"), "ing.msg": ("说明", "message"),
    "ing.reasons": ("原因", "reasons"), "ing.overdue": ("逾期未报送的单位（D-5.4 周期）", "Units overdue against their D-5.4 cycle"),
    "ing.cycle": ("周期", "cycle"), "ing.due": ("应报送时间", "due by"), "ing.never": ("从未报送", "never sent"),
    "ing.creds": ("appid 凭证", "appid credentials"), "ing.issue": ("签发 appid", "Issue an appid"),
    "ing.orgno": ("统一社会信用代码", "credit code"), "ing.unitname": ("单位名称", "unit name"),
    "ing.issued": ("已签发的 appid", "appid issued"),
    "ing.once": ("密钥只显示这一次，控制台不保存；请立即安全地交给该单位。", "The secret is shown this once and kept nowhere by the console; hand it to the unit securely now."),
    "au.timeline": ("链上时间线", "Chain timeline"), "au.kind": ("事件", "event"), "au.org": ("机构", "organisation"),
    "au.verify": ("重新验证", "Re-verify"), "au.csv": ("导出 CSV", "Export CSV"), "au.report": ("打印报告", "Printable report"),
    "au.console": ("控制台操作日志", "Console audit log"), "au.block": ("区块", "block"),
    "au.ok": ("全部验证通过", "everything verified"), "au.problems": ("不一致", "mismatches"),
    "ov.openwarn": ("未关闭的预警（四色）", "Open warnings by colour"),
    "au.next": ("下一页", "Next page"), "au.more": ("此范围内还有更多记录，继续", "More in this range: continue"),
    "au.reads": ("本页 L3/L4 记录的读取日志", "Reads of the L3/L4 records on this page"),
    "au.index": ("区块索引（逐块验证哈希链）", "Block index (hash chain verified block by block)"),
    "au.items": ("项", "items"), "au.first": ("首页", "First page"),
    "common.filter": ("筛选", "Filter"), "common.error": ("出错", "Error"), "common.done": ("已完成", "Done"),
    "common.user": ("用户", "user"), "common.action": ("操作", "action"), "common.result": ("结果", "result"),
    "common.status": ("状态", "status"), "common.detail": ("详情", "detail"), "common.lang": ("English", "中文"),
}


def pick_lang(value: str | None) -> str:
    """``value`` if it is a supported language, else the default (zh-CN)."""
    return value if value in LANGS else DEFAULT_LANG


def translate(lang: str, key: str) -> str:
    """The text of ``key`` in ``lang``; the key itself when unknown (visible, never an error)."""
    pair = _TEXTS.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]
