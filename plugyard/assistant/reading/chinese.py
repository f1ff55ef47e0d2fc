"""The topic of a Chinese request: cue patterns per intent capture the subject, then the capture is
cleaned of the words around a subject (帮我, 一下, 的, 能力, 原理...). Times are already removed.

Chinese has no spaces, so a cue is only cut where it cannot be part of a word of the subject: 有 is
cut after 我/还/就 (我有), never alone (有机化学), and 学 only after 想/要/我 (数学, 化学 stay whole)."""

from __future__ import annotations

import re

from .exams import named_exam
from .spans import cleaning_notes

TIME_MARK = "\u2063"
"""Where a time expression was taken out (an invisible separator): what stands before one at the start of a
sentence is a subject stated first, its comment after (毕业论文3月20日要交初稿: the thesis, not the draft)."""
# Who does the work, stated first, is not the subject (公司下个月要开年会: the party, not the company).
_DOERS = re.compile(
    r"(?:我们|咱们|你们|他们)?(?:公司|老师|老板|学校|团队|领导|客户|导师|教授|部门|家里|孩子|儿子|女儿|妈妈|爸爸|"
    r"朋友|同事|同学|室友|班级|组里)"
)
_FRONTED = re.compile(
    rf"^(?P<x>[^\s，。？！；、,.?!;\n{TIME_MARK}我你他她帮请想要把在有给让]{{2,12}}){TIME_MARK}\s*(?:之?前|以前)?\s*"
    r"(?:就|要|得|必须|才|还|截止|到期|交|考|开|上线)"
)

_P = r"[^，。？！；、,.?!;\n]"  # any character of the same clause
_POLITE = re.compile(
    r"(?:麻烦你?|拜托|谢谢你?|多谢|求求你?|求助|救命|急急急|急|在线等|求大神|大神们?|请问|请教一下|请教)"
)
_LEADING = re.compile(
    r"^(?:要(?![素点求])|才能|才可以|帮我|帮忙|帮|请你?|你能|能不能|能否|可以|可不可以|给我|为我|替我|我们?|我要|我想|我得|我需要|需要|想要|"
    r"能(?=提高|提升|改善|帮|让)|前要|之前要|以前要|打算|计划(?=[开做办写搞建])|更[^，。？！\s]{1,2}地|(?:认真|努力|快速|系统|高效)地|把|将|对于|关于|有关|一下|[一两几](?:个|场|次|本|份|篇|套|门|项|部|首|幅|张|台|款|座|趟|堂|支|条|间|家|段|件|道|只|块|曲)(?=[^，。？！\s]{2})|这个|那个|这件|"
    r"自己的|我的|我们的|咱们的|他的|她的|的|之|了|在(?!线)|怎么|如何|怎样|好好|认真|[看读学听]了|练(?=[^习好])|"
    r"会有|会出现|给[^，。？！\s给]{1,4}?(?:讲解|讲讲|讲|介绍|解释)|[^，。？！\s]{1,8}?的时候(?:会有|会出现|会)|"
    r"[^，。？！\s]{1,6}?里的|[^，。？！\s]{1,6}?中的|[^，。？！\s]{1,4}?上的|到(?:能|可以|会)|(?:我们|咱们)?(?:公司|学校|部门|团队|家里|班级|组里|组)(?:今年|明年|这次|这回)?的|坚持|养成)+"
)
_END_WORDS = (
    r"吗|呢|吧|啊|呀|了|的|么|哦|嘛|呗|到底|究竟|一般|比较(?:好|合理|合适|高效|靠谱)|最好|才好|怎么办|怎么弄|一下|一点|一遍|一些|清楚|明白|透彻|几个|几步|是|"
    r"很弱|太弱|不好|太差|很差|不行|还是|到底是什么|到底是什|是什"
)
# A comment or a purpose said after the subject, in any intent: 新房子好复杂啊, 个人网站给面试官看, 织围巾送人,
# 把年会策划方案做出来, 把Excel用熟练, 把客厅重新刷.
_COMMENT = re.compile(
    r"(?:(?:好|太|很|特别|超|有点|真)(?:复杂|难|麻烦|乱|头疼|头大)(?:啊|了|呀)?|给[^，。？！\s给]{1,4}(?:看|用|听|送)|"
    r"送人|送给?[^，。？！\s]{1,3}|(?:做|弄|搞|写|整|拿)(?:出来|完)|用熟练?|重新[^，。？！\s]{1,2}|"
    r"(?:放松|解压|静静?心|消遣|打发时间)(?:一下)?|(?<=[^，。？！\s]{2})卖[^，。？！\s]{1,10}|而(?:不是|非).*|(?<=[^，。？！\s]{2})(?:用来|拿来|(?<![播开释解投发存摆排下])放(?![器大松假学映心弃]))[^，。？！\s]{2,8}|的习惯|(?:我|由我)(?:来)?负责)$"
)
# A first clause that only says who the learner is, or who said what (我是护士 before 想学油画; 老师说下周三考线代):
# no subject there, the request follows.
WHO_FIRST = re.compile(
    r"^(?:我是[^，。？！；,?!;\n]{1,10}[，,]\s*|(?:我们?的?)?(?:老师|老板|导师|领导|教授|同事|朋友)(?:说|讲|让我|要我))"
)
_HOW = r"(?:到底|究竟)?(?:应该|该|要)?(?:怎么|如何|怎样|咋)(?:提分|准备|复习|练|学|办|弄|开始|安排|提高|提升|进步)"
_TRAILING = {
    "": re.compile(rf"(?:{_END_WORDS})+$"),
    "exam_preparation": re.compile(
        rf"(?:{_HOW}|这门|这科|那门|期末|期中|考试|小测验|测验|小测|考级|会考|月考|模考|周考|周测|联考|摸底考|的?复习(?:计划|重点|方法|提纲)?|{_END_WORDS})+$"
    ),
    "task_decomposition": re.compile(
        r"(?:的(?:准备|筹备|开发|制作|实施|执行)?工作|(?:准备|筹备)工作|的?(?:开发|申请|整个)?流程|的?全?过程|"
        r"的(?:开发|制作|准备|筹备|实施|执行|撰写|编写|写作)|的?(?:具体)?步骤|的?(?:小)?任务|的?计划|计划|这件事情?|的?事情?|项目|"
        rf"清单|待办事项|阶段|成|的?筹备|前前后后|(?:需要|要|得)?(?:做|准备|干|弄)(?:哪些|什么|啥)|哪些|{_HOW}|{_END_WORDS})+$"
    ),
    "deep_learning": re.compile(
        r"(?:有(?:啥|什么)(?:区别|不同)|有何不同|的?原因|的?由来|的?来龙去脉|的?意义|到底是什么原理|是什么原理|什么原理|的?原理|的?本质|的?概念|的?直观含义|的?含义|的?直觉|的?全过程|的?过程|是什么|是啥|是?(?:怎么|咋)回事|咋回事|"
        rf"是怎样的|是怎么样的|是怎么\w{{1,3}}的|到底|究竟|我|{_END_WORDS})+$"
    ),
    "skill_building": re.compile(
        rf"(?:的?能力|的?水平|的?技能|的(?:计划|方法|路线|安排)|更好看|好看|得更好|更好|{_HOW}|{_END_WORDS})+$"
    ),
}
_TASK_VERBS = re.compile(
    r"^(?:开一家|办一个|装修|搭建|搭|开发|上线|发布|推出|写完|写|做完|做|开|组织|筹备|完成|举办|策划|设计|制作|提交|交|准备)"
)
_SKILL_CUES = re.compile(r"^(?:改进|提高|提升|改善|锻炼|加强|增强|练好|练习|训练|培养|精进|练)")

Pattern = tuple[re.Pattern[str], bool]
# Never a subject: a character of the request alone (熟, 点; 熵 and 冰 are subjects), a pronoun or a
# conjunction (它, 但), an adverb or a modal (完全, 应该), a verb of the request itself (统筹, 规划).
# Such a capture is passed over for the next one.
_NOT_A_SUBJECT = re.compile(
    r"[点熟透好懂完会能该但而它他她我你做快慢法又也还都就才再]|而(?:不是|非).*|比较\w{1,2}|最好|最有效|合理|合适|背后|其中|里面|这里|那里|比如|例如|譬如|.+(?:那块|这块|那部分|这部分|那一块|这一块)|(?:它|他们|她们|但是?|可是|而且|所以|因为|然后|应该|总是|一直|完全|还是|老是|已经|经常|什么都).*|(?:这|那)(?:个|些|样)?|完全|自己|"
    r"一点|上去|上来|起来|下去|负责|统筹|规划|安排|看看|推进|处理|来得及|怎么办|干活"
)
_META = {
    "工作",
    "事情",
    "事",
    "这件事",
    "最有效",
    "效率高",
    "方法",
    "办法",
    "计划",
    "建议",
    "技巧",
    "思路",
    "步骤",
    "任务",
    "内容",
    "东西",
    "问题",
}

# Per intent, in priority order. ``True``: the subject stands before the cue, and what precedes it
# in the clause (帮我准备, 我有...) is cut at the last cue word.
PATTERNS: dict[str, list[Pattern]] = {
    "exam_preparation": [
        # Topic first, then the comment: 英语六级两周后就考了, 计算机二级怎么准备, 我报了雅思
        (re.compile(rf"(?P<x>{_P}+?)(?:就|马上|快|也|都)?要?考了"), True),
        (re.compile(rf"报(?:名|考)?了(?P<x>{_P}+)"), False),
        (re.compile(rf"(?<!准)备考(?P<x>{_P}+)"), False),  # 准备考研: no 备考 there
        (re.compile(rf"把(?P<x>{_P}+?)(?:过一?遍?|复习|再看一?遍?|梳理|过一下)\s*$"), False),
        (re.compile(rf"(?P<x>{_P}+?)(?:期末|期中)?(?:考试|小测验|测验|小测|考级|会考|月考|模考|周考|周测|联考|"
                    r"摸底考)"), True),
        (re.compile(rf"(?P<x>{_P}+?)(?:期末|期中)(?![考])"), True),
        (re.compile(rf"(?<![思参高中])考(?![试前虑完得的研])过?(?P<x>{_P}+)"), False),
        (re.compile(rf"(?P<x>{_P}+?)的?复习(?:计划|重点|方法|提纲)"), True),
        (re.compile(rf"(?:复习|准备)(?P<x>{_P}+)"), False),
        (re.compile(rf"(?P<x>考研{_P}{{1,4}})"), False),
        (re.compile(rf"(?P<x>{_P}+?)(?:应该|该|要)?(?:怎么|如何|怎样)(?:准备|复习|备考)"), True),
    ],
    "task_decomposition": [
        (re.compile(rf"把(?P<x>{_P}+?)(?:拆分|拆解|拆成|拆|分解|分成|划分|细分|列成|做成|整理成|变成|规划|"
                    r"改造成|改装成|装修成|改成)"), False),
        (re.compile(rf"(?:拆分|拆解|分解|规划|计划|安排|梳理)(?:一下)?(?!成)(?P<x>{_P}+?)的?(?:步骤|任务|流程|准备工作|"
                    r"筹备工作|工作|过程|阶段|计划|清单)"), False),
        (re.compile(rf"把(?P<x>{_P}+?)(?:改版|上线|装修|翻新|改造|搞定|做完|弄完|写完|完成|做好|弄好|收拾|整理好)+[完好]?$"),
         False),
        (re.compile(rf"(?P<x>{_P}+?)(?:就|要|得)+(?:上线|发布|交付|开业|开张)"), True),
        (re.compile(rf"(?P<x>{_P}+?)(?<![让叫要请派给])(?:(?:交给|交由|落到)我|(?:由我|我来?)负责)"), True),
        (re.compile(rf"(?:完成|写完|做完|搭建|搭|做|准备|组织|筹备|举办|策划|交|提交|开发|上线|发布|推出|写|装修|设计|拍|录|翻新|改造|打扫|收拾|办(?!公)|开(?!始|心|会))(?:一下)?"
                    rf"(?:[一两]?(?:个|场|次|本|份|篇|家|间|部|首|支|台|款|套))?(?P<x>{_P}+)"), False),
        (re.compile(rf"(?:规划|安排|计划|梳理|拆分|拆解|分解)(?:一下)?(?!成)(?P<x>{_P}{{2,}})"), False),
    ],
    "deep_learning": [
        (re.compile(rf"(?:(?<!为)什么|(?<!为)啥)(?:是|叫)(?P<x>{_P}+)"), False),
        (re.compile(rf"(?P<x>{_P}+?)(?:到底|究竟)?是(?:啥|什么|个啥|什么东西)\s*$"), True),
        (re.compile(rf"学不会(?P<x>{_P}+)"), False),
        (re.compile(rf"(?P<x>{_P}+?)(?:到底|究竟)?(?:在干什么|在干嘛|在做什么|是啥意思|是什么意思|啥意思|什么意思|是干什么的|"
                    r"是干嘛的|有什么用)"), True),
        (re.compile(rf"为什么(?![能会要可无不总是])(?P<x>{_P}+?)(?:能|不能|会|不会|要|可以|无法|能够|是|总是)"), False),
        (re.compile(rf"(?P<x>{_P}+?)(?:为什么|为啥|为何)"), True),
        # 为什么要这样设计: a question about what was named before it (这样, 这么), no subject of its own
        (re.compile(rf"^为什么(?!(?:要|会|能|得)?(?:这样|那样|这么|那么))(?P<x>{_P}+)$"), False),
        (re.compile(rf"(?:理解|搞懂|弄懂|弄明白|搞明白|搞清楚|弄清楚|学懂|看懂|了解|掌握|明白)(?:一下|不了|不透)?"
                    rf"(?P<x>{_P}+)"), False),
        (re.compile(rf"(?P<x>{_P}+?)(?:我)?(?:一直|总是|还是|始终|老是)?(?:很困惑|困惑|迷糊|没概念|不懂|搞不懂|搞不明白|弄不明白|"
                    r"不明白|没[弄搞看听学读]?懂|没(?:弄|搞)明白|不太懂|想不通|不理解|看不懂|学不会)"), True),
        (re.compile(rf"(?:搞不懂|弄不懂|搞不明白|弄不明白|不明白|不理解|看不懂|不懂)(?P<x>{_P}+)"), False),
        (re.compile(rf"(?:讲透彻|讲透|讲清楚|讲明白|讲解|讲讲|解释|介绍|讲一讲|说说|分析)(?:一下)?"
                    rf"(?P<x>{_P}+)"), False),
        (re.compile(rf"(?P<x>{_P}+?)(?:到底|究竟)?(?:是)?(?:怎么|如何|怎样|咋)"
                    r"(?:回事|工作|运作|运行|形成|实现|产生|学习)"), True),
        # 把X彻底搞明白; X到底特别在哪
        (re.compile(rf"把(?P<x>{_P}+?)(?:彻底|完全|真正|好好)?(?:搞|弄|学|想|看)(?:明白|懂|清楚|透)"), False),
        (re.compile(rf"(?P<x>{_P}+?)(?:到底|究竟)?(?:特别|好|难|妙|强|厉害|不同|高明)在(?:哪|哪里|哪儿)"), True),
        (re.compile(rf"(?P<x>{_P}+?)的?(?:本质|原理|全过程|过程|直观含义|直觉|概念|机制)"), True),
        (re.compile(rf"(?P<x>{_P}+?)(?:到底|究竟)?是?(?:怎么|如何|怎样|咋)"), True),
    ],
    "skill_building": [
        (re.compile(rf"在(?P<x>{_P}+?)(?:时|的时候|中|上)更(?:加)?(?:自信|好|流利|从容|出色)"), False),
        (re.compile(rf"(?:成为|当)(?:一个|一名)?(?:更好的|优秀的|厉害的)?(?P<x>{_P}+)"), False),
        (re.compile(rf"(?:写好|练好|做好|说好|画好|弹好|唱好|学好)(?P<x>{_P}+)"), False),
        (re.compile(rf"(?:提高|提升|改善|改进|锻炼|加强|增强|练习|训练|培养|精进)(?:一下)?(?P<x>{_P}+)"), False),
        (re.compile(rf"(?:练一练|练练|学一学|学学)(?P<x>{_P}+)"), False),
        (re.compile(rf"练到(?:能|可以|会)(?P<x>{_P}+)"), False),
        (re.compile(rf"(?:坚持|养成)(?P<x>{_P}+?)(?:的习惯|$)"), False),
        (re.compile(rf"练(?![习好一练法])(?:[0-9一二两三四五六七八九十半]+\s*(?:个)?(?:分钟|小时))?"
                    rf"(?P<x>{_P}+)"), False),
        (re.compile(rf"(?:学习|练习|学|练)(?P<x>{_P}+?)的(?:计划|方法|路线|安排)"), False),
        (re.compile(rf"(?:想|要|开始|怎么|如何|我)学(?:会|习)?(?P<x>{_P}+)"), False),
        (re.compile(rf"(?:学会|教我)(?P<x>{_P}+)"), False),
        (re.compile(rf"把(?P<x>{_P}+?)(?:写|练|弹|唱|画|说)得"), False),
        (re.compile(rf"把(?P<x>{_P}{{2,}}?)(?:练|提|学|弄|搞|变|弹|唱|画|说|做)"
                    r"(?:上去|上来|起来|高|熟|好|成|会|快|稳)"), False),
        (re.compile(rf"(?P<x>{_P}+?)的?(?:水平|能力)"), True),
        (re.compile(rf"(?P<x>{_P}+?)(?:应该|该|要)?(?:怎么|如何|怎样|咋)(?:练|提高|提升|进步)"), True),
        # X总V不好: 摄影构图总拍不好, 琶音总弹不好
        (re.compile(rf"(?P<x>{_P}+?)(?:总是?|老是?|一直|始终)[^，。？！\s]{{1,2}}?"
                    r"(?:不好|不稳|不准|不对|不出来)"), True),
        # Topic first, then how it goes: 吉他扫弦总是不稳, 我羽毛球反手太弱了, 听力一直是短板
        (re.compile(rf"(?P<x>{_P}+?)(?:一直|总是|老是|还是|始终)?(?:(?:特别|非常|太|很|有点|比较)(?:低|差|弱|慢|乱|烂|糟)|"
                    r"不稳|不好|不行|不够|不标准|不准|不地道|不流利|是短板|是弱项|是我的弱项|拖后腿)"), True),
        (re.compile(rf"^(?P<x>{_P}{{2,8}}?)(?:总是|老是|一直|经常)"), False),
    ],
}  # fmt: skip

_CUT_BEFORE = re.compile(
    r".*(?:帮我|帮忙|请|[我你]对|参加|报名|(?:一直|总是|还是)?(?:搞不懂|弄不懂|搞不明白|不明白|不理解|理解不了|不懂)|我要|我想|我得|我需要|[我还就都也]有|我们?(?=有|要)|有(?:一)?(?:场|门|个|次)|^有(?![机限效理线声氧])|准备|复习|备考|"
    r"一下|要|就|是|的|考过|想|在(?!线)|有关|关于|制定|安排|规划|列出?|一个|一份|[看读学听练]了|前要|前)"
)
_CUT_BEFORE_NO_DE = re.compile(_CUT_BEFORE.pattern.replace("|的|", "|"))


def _subject(found: str) -> bool:
    return bool(found) and len(found) <= 30 and found not in _META and not _NOT_A_SUBJECT.fullmatch(found)


def clean(text: str, intent: str = "") -> str:
    """A captured subject without the words around it (per intent: 原理 ends a concept, not an exam)."""
    trailing = _TRAILING.get(intent, _TRAILING[""])
    text = _COMMENT.sub("", text.strip()) or text  # before politeness: 好麻烦 is a comment, not 麻烦你
    text = _POLITE.sub("", text)
    text = re.sub(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])", "", text).strip(" ，。？！、：:\"'“”‘’")
    for _ in range(4):
        before = text
        text = _LEADING.sub("", text).strip()
        text = trailing.sub("", text).strip(" ，。？！、")
        text = _COMMENT.sub("", text).strip() or text
        if text == before:
            break
    return text


def _cut(text: str, intent: str) -> str:
    text = _POLITE.sub("", text)  # 请问 before the subject: 请 is a cue, 问 is no subject
    text = re.sub(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])", "", text)
    m = (_CUT_BEFORE if intent == "exam_preparation" else _CUT_BEFORE_NO_DE).match(text)
    return text[m.end() :] if m and m.end() < len(text) else text


def clauses_of(text: str) -> list[str]:
    return [p.strip()[:200] for p in re.split(r"[，。？！；,?!;\n]+", text) if p.strip()]  # bounded: see english


def _read(clauses: list[str], intent: str) -> tuple[str, str | None] | None:
    for pattern, before in PATTERNS.get(intent, []):
        for clause in clauses:
            m = pattern.search(clause)
            if m is None:
                continue
            raw = _cut(_TRAILING.get(intent, _TRAILING[""]).sub("", m["x"]), intent) if before else m["x"]
            found, verb = clean(raw, intent), None
            if intent == "skill_building" and (cue := _SKILL_CUES.match(found)):
                found = clean(found[cue.end() :], intent) or found
            if intent == "task_decomposition" and (task := _TASK_VERBS.match(found)):
                rest = clean(found[task.end() :], intent)
                if len(rest) >= 2:
                    found, verb = rest, task[0]
            if intent == "deep_learning" and not before:
                # 讲讲区块链是怎么保证数据不被篡改的: the subject, then the question about it
                found = re.sub(r"(?:到底|究竟)?是?(?:怎么|如何|怎样|为什么|为何|为啥).*$", "", found) or found
            if _subject(found):
                return found, verb
    return None


_NO_SUBJECT_CHARS = re.compile(r"[我你他她它帮请想要把在有给让怎么什么吗呢吧不没好嗨哈嗯唉哎啊哦]")


def _standing_alone(text: str, intent: str) -> str | None:
    """A first sentence that is only a subject, ended by a full stop (熵。我就是搞不懂它): that subject."""
    m = re.match(r"\s*([^，。？！；,.?!;\n]{1,10})[。．.!！]", text)
    if m is None or _NO_SUBJECT_CHARS.search(m[1]):
        return None
    found = clean(m[1], intent)
    return found if found == m[1].strip() and _subject(found) else None


# A space between Chinese characters ends a clause (后天法考 民法还没刷完 心态崩了), where a time taken out
# (TIME_MARK) is no space, and a space beside one ends a clause too (不及格 周五又要考了).
_SPACED = re.compile(rf"(?<=[\u4e00-\u9fff{TIME_MARK}])[ \t\u3000]+(?=[\u4e00-\u9fff{TIME_MARK}])")


def read_topic(text: str, intent: str) -> tuple[str, str | None]:
    """The subject and, for tasks, the verb the learner used (装修 for 装修厨房), or None."""
    text = _SPACED.sub("，", text)
    text = WHO_FIRST.sub("", text.strip()) or text  # 老板说<T>前要把X: who said it is no fronted subject
    fronted = _FRONTED.match(text.strip())
    if fronted and not _DOERS.fullmatch(fronted["x"]) and _subject(topic := clean(fronted["x"], intent)):
        return topic, None
    text = text.replace(TIME_MARK, " ")
    if alone := _standing_alone(text, intent):
        return alone, None
    found = _read(clauses_of(text), intent)
    if found is None and intent == "exam_preparation" and (exam := named_exam(text)):
        found = (exam, None)
    if found is None:
        for other in PATTERNS:
            if other != intent and (found := _read(clauses_of(text), other)) is not None:
                break
    if found is not None:
        return found
    longest = max((clean(c, intent) for c in clauses_of(text)), key=len, default="")
    return longest[:20], None


def _sources(patterns: list[re.Pattern[str]]) -> str:
    return " ".join(p.pattern for p in patterns)


# The characters the rules are written with (cue words, particles, verbs of the request): what stands beside
# a subject more often than inside one (学, 数, 化 begin too many subjects: 数学, 化学). For the topic model.
CUE_CHARS = frozenset(
    re.findall(
        r"[\u4e00-\u9fff]",
        _sources(
            [_POLITE, _LEADING, _CUT_BEFORE, *_TRAILING.values(), *(p for ps in PATTERNS.values() for p, _ in ps)]
        ),
    )
) - frozenset("学数化")


def span_notes(span: str, intent: str) -> list[str]:
    """What the rules' word lists say of a candidate subject (for the topic model): words it would be cleaned
    of, at which end, and whether it is never a subject or is who does the work."""
    notes = cleaning_notes(span, clean(span, intent))
    if span in _META or _NOT_A_SUBJECT.fullmatch(span):
        notes.append("nosubj")
    if _DOERS.fullmatch(span):
        notes.append("doer")
    return notes
