"""The lexicon the portal starts with: a few sensible entries per keyword rule, for HR to complete.

Kept deliberately small and mild. The political (C01) and vulgar/insult (B02) lists are placeholders
that name the kind of phrase a company lists, not a catalogue of offensive words: HR completes them
from the company's own list (admin → 词库条目, or the CSV import).
"""

# (rule code, kind, text, note)
LEXICON = [
    # C06 unrelated commercial advertising
    # "代理" alone is no advertisement: a sales team's 代理商, a manager signing as 代理 (violations 0022)
    ("C06", "word", "招代理", ""),
    ("C06", "word", "诚招代理", ""),
    ("C06", "word", "代理招募", ""),
    ("C06", "word", "招募代理", ""),
    ("C06", "word", "代理加盟", ""),
    ("C06", "word", "加微信", ""),
    ("C06", "word", "加我微信", ""),
    ("C06", "word", "兼职刷单", ""),
    ("C06", "word", "扫码领取", ""),
    ("C06", "word", "优惠券", ""),
    ("C06", "word", "限时特价", ""),
    ("C06", "word", "招商加盟", ""),
    ("C06", "word", "免费领取", ""),
    ("C06", "word", "微商", ""),
    ("C06", "pattern", "加*好友*领", "加好友领红包/领礼品"),
    ("C06", "pattern", "私信*领取", ""),
    ("C06", "domain", "u.tb.cn", "淘宝推广短链"),
    ("C06", "domain", "mobile.yangkeduo.com", "拼多多推广页"),
    # C02 pornography, gambling, malware links
    ("C02", "word", "博彩", ""),
    ("C02", "word", "网赌", ""),
    ("C02", "word", "百家乐", ""),
    ("C02", "word", "色情", ""),
    ("C02", "word", "裸聊", ""),
    ("C02", "pattern", "点击*链接*中奖", "钓鱼链接常见话术"),
    # C01 political: placeholders, HR completes from the company's list
    ("C01", "word", "反动", "示例占位,请人资按公司清单补充"),
    ("C01", "word", "颠覆国家政权", "示例占位,请人资按公司清单补充"),
    # C03 violence, terror, incitement
    ("C03", "word", "制造炸弹", ""),
    ("C03", "word", "买卖枪支", ""),
    ("C03", "word", "教你报复", ""),
    # C04 religion, superstition
    ("C04", "word", "转发保平安", ""),
    ("C04", "word", "不转不是", "迷信转发话术"),
    ("C04", "word", "算命", ""),
    ("C04", "word", "风水大师", ""),
    # C05 rumours, unverified news
    ("C05", "word", "内部消息", ""),
    ("C05", "word", "据说要裁员", ""),
    ("C05", "word", "转疯了", ""),
    ("C05", "word", "紧急扩散", ""),
    # S01 secrets
    ("S01", "word", "内部资料", ""),
    ("S01", "word", "客户名单", ""),
    ("S01", "word", "报价单", ""),
    ("S01", "word", "底价", ""),
    ("S01", "word", "财务报表", ""),
    ("S01", "word", "工资表", ""),
    ("S01", "pattern", "内部*外传", "“内部资料请勿外传”类"),
    # B02 insults: placeholders, HR completes from the company's list
    ("B02", "word", "废物", "示例占位,请人资按公司清单补充"),
    ("B02", "word", "脑残", "示例占位,请人资按公司清单补充"),
    ("B02", "word", "滚出去", "示例占位,请人资按公司清单补充"),
]
