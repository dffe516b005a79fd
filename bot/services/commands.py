"""Every chat command, who may use it, and the help text built from this one list."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.roles import Role


@dataclass(frozen=True)
class Command:
    name: str
    description: str
    roles: frozenset[Role] | None  # None: everyone, even before joining


ALL = None
OFFICER = frozenset({Role.OFFICER})
WATCHERS = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.ADMIN})

COMMANDS: list[Command] = [
    Command("start", "bắt đầu; tham gia bằng mã mời: /start MÃ", ALL),
    Command("baocao", "làm báo cáo (tiếp tục báo cáo đang làm dở)", OFFICER),
    Command("danhsach", "danh sách các báo cáo cần làm", OFFICER),
    Command("trangthai", "tình hình báo cáo kỳ này và các kỳ gần đây", WATCHERS),
    Command("huy", "hủy bản nháp báo cáo đang làm", OFFICER),
    Command("giup", "hướng dẫn và danh sách lệnh", ALL),
]
BY_NAME = {c.name: c for c in COMMANDS}


def allowed(command: Command, roles: set[Role]) -> bool:
    return command.roles is None or bool(command.roles & roles)


def help_text(roles: set[Role]) -> str:
    lines = ["Các lệnh bạn có thể dùng:"]
    lines += [f"/{c.name} — {c.description}" for c in COMMANDS if allowed(c, roles)]
    if Role.OFFICER in roles:
        lines += ["", "Khi trả lời: gõ số hoặc chữ (có dấu hay không dấu đều được), ví dụ "
                  "“12”, “1.234”, “12,5”, “co”, “khong”. Mỗi câu trả lời được lưu ngay; "
                  "nếu bị gián đoạn, gõ /baocao để làm tiếp."]
    return "\n".join(lines)
