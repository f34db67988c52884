package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func sqliForm(body string) *Request {
	return &Request{Method: "POST", Path: "/api/v1/login", Body: []byte(body), ContentType: "application/x-www-form-urlencoded",
		Headers: []Header{{"Host", "api.example"}, {"Content-Type", "application/x-www-form-urlencoded"}}}
}

func foundClass(fs []Finding, class string) bool {
	for _, f := range fs {
		if f.Class == class {
			return true
		}
	}
	return false
}

// TestSQLInjectionTechniques holds one case per injection technique and
// evasion the SQLi rules are meant to catch.
func TestSQLInjectionTechniques(t *testing.T) {
	p := defaultProfile(t, Policy{})
	tests := []struct {
		name string
		req  *Request
	}{
		// Boolean conditions after a breakout.
		{"quoted tautology", get("user=admin%27%20or%20%271%27%3D%271")},
		{"numeric tautology", get("id=1%20or%201%3D1")},
		{"tautology without spaces", get("id=1%27or%271%27%3D%271")},
		{"OR with a negated operand", get("id=asd%22or-1%20XOR%220")},
		{"condition appended to a number", get("id=5%20AND%202771%3D1709")},
		{"condition fragment opening a sub-expression", sqliForm("pay=AND+7639%3D%28")},
		{"bare tautology", get("a=1%3D1")},
		{"inequality tautology", get("a=11!%3D1")},
		{"two quoted literals compared", get("a=%27admin%27%2C%20%271%27%3D%271%27")},
		// MySQL implicit type conversion.
		{"quoted MOD", get("q=A%27%20MOD%20%27B")},
		{"quoted minus", get("q=%27-%27")},
		{"empty string arithmetic after OR", get("q=%27%20or%20%27%27-%27")},
		{"arithmetic expression reopening a string", get("q=1%27%20*id-%270")},
		{"operator chain ending on an open string", get("q=aa%27%20%25%201%20or%20%271")},
		// Operators and predicates closing with a comment.
		{"collate after a quote", sqliForm("var=user%27collate+nocase--")},
		{"notnull after a quote", sqliForm("email=%27+notnull+--")},
		{"ilike after a quote", sqliForm("email=admin%40juice-sh.op%27+and+email+ilike+email--")},
		{"glob after a quote", sqliForm("var=id%27not+glob-id--")},
		{"bitwise operator after a quote", sqliForm("var=x%27%7Cemail--")},
		{"quote and statement terminator", sqliForm("email=admin%40juice-sh.op%27%3B")},
		{"double quote and hash comment", get("u=admin%22%20%23")},
		// UNION and SELECT.
		{"union select", get("id=1%20UNION%20ALL%20SELECT%20NULL,NULL--")},
		{"union select left open", sqliForm("q=UnIon+seleCt%0A")},
		{"union select after a quote", sqliForm("q=%27union+select%2F")},
		{"inline comments between keywords", sqliForm("test=SELECT%2F*avoid-spaces*%2Fpassword%2F**%2FFROM%2F**%2FMembers")},
		{"versioned comment", get("id=1%20/*!50000UNION*/%20/*!50000SELECT*/%201,2")},
		{"select of a function", sqliForm("q=select(user(%0A")},
		{"alias then FROM", sqliForm("q=%29+AS+orders+FROM")},
		{"a FROM clause tail", sqliForm("q=FROM+termine+GROUP+BY+tag1")},
		// Stacked queries and statements.
		{"stacked drop", get("q=x%27;%20DROP%20TABLE%20users--")},
		{"stacked truncate", get("q=;truncate%5Bxx")},
		{"stacked replace values", get("q=;REPLACE%20test%20(id,%20name)%20VALUES%20(1,%20%27t%27);")},
		{"alter table", sqliForm("pay=ALTER+TABLE+%60mails%60+CHANGE+%60a%60+%60a%60+TEXT")},
		{"declare a variable", sqliForm("pay=DECLARE%2F**%2F%40x")},
		{"execute immediate", get("var=EXECUTE%20IMMEDIATE%20%22")},
		{"extended stored procedure", get("q=exec%20master..xp_cmdshell%20%27dir%27")},
		{"procedure analyse", sqliForm("var=procedure+analyse+%28")},
		// Functions.
		{"SQL-only function", get("q=concat_ws(0x3a,user(),database())")},
		{"nested extraction", get("q=ascii(substring((select%20password%20from%20users),1,1))%3E64")},
		{"error-based extraction", get("id=extractvalue(1,concat(0x7e,version()))")},
		{"function with literal arguments", get("id=div(23,-2)")},
		{"function compared", get("id=length(password)%3E5")},
		{"open call left by a cut payload", sqliForm("pay=group_concat(")},
		{"empty call in an expression", get("q=1%20and%20user()%3D%27root%27")},
		{"bare time delay", get("sql_table=sleep(534543)")},
		{"benchmark split by a comment", sqliForm("q=BENChmARk(2999%2F**%2F999,Md5(NoW()")},
		{"pg_sleep", get("var=select%20pg_sleep")},
		{"conditional", get("var=%20case%20when%20condition1%20then%20result1")},
		{"if with a comparison", get("var=if(1234%3D")},
		{"having with an aggregate", get("var=SELECT%20x%20GROUP%20BY%20y%20HAVING%20COUNT(Id)%20%3E%3D%209")},
		// Database-specific syntax.
		{"PostgreSQL cast", get("id=password::int")},
		{"number glued to a name", sqliForm("foo=1.e(ascii)")},
		{"JSON containment operator", get("id=OR%20%27%7B%22a%22:%22b%22%7D%27%20%3F%20%27a%27")},
		{"system database", sqliForm("pay=xp_dirtree")},
		{"catalogue access", get("q=1%20and%20(select%20count(*)%20from%20information_schema.tables)%3E0")},
		// Places and encodings.
		{"in a header", withHeader("X-Forwarded-For", "1' or '1'='1")},
		{"in a parameter name", sqliForm("pay%3DAND+2771%3D1709%29")},
		{"in a JSON field", jsonPost(`{"sort":"1' *id-'0"}`)},
		{"double encoded", get("id=1%2527%2520or%2520%25271%2527%253D%25271")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := p.Inspect(tt.req, nil)
			assert.True(t, foundClass(fs, ClassSQLi), "no sqli finding: %v", fs)
		})
	}
}

// TestSQLLookAlikesDoNotFire holds benign values that share words or
// punctuation with SQL injection.
func TestSQLLookAlikesDoNotFire(t *testing.T) {
	p := defaultProfile(t, Policy{})
	tests := []struct {
		name string
		req  *Request
	}{
		{"names with apostrophes", get("name=Sven%20O%27Brien-Smith&city=Coeur%20d%27Alene")},
		{"a title with a function-like word", get("q=sleep(5)%20song")},
		{"a title with a year", get("q=Reality%20check%20(2016)")},
		{"a time zone in parentheses", get("q=meeting%20time%20(UTC)")},
		{"a field selector", get("q=User(login_name),Images(url_170x135)")},
		{"method calls in a code snippet", jsonPost(`{"comment":"call str.trim() then Math.max(a, b) and $(sel).text()"}`)},
		{"quoted prose", jsonPost(`{"body":"Color is \"navy\" not \"black\" as the photo suggests... Use code 'WELCOME10' at checkout -- it worked; 100% cotton."}`)},
		{"quoted words in an embedded URL", get("q=/search/handmade%3Fq%3D%22vintage%22%26page%3D2")},
		{"HTML with attributes and an apostrophe", get("q=faites%20un%20tour%20%3Ca%20href%3D%22%2Fapps%2F%22%3Egalerie%20d%27applications%3C%2Fa%3E!")},
		{"an identifier ending in dashes", get("q=1611-IioXXIG1ti8rspL2vbXFy--")},
		{"dimensions in inches", get("q=scrapbook%20paper%20pack%20(8.5x11%22-300%20dpi)")},
		{"a false comparison", get("q=1%3D5")},
		{"bait inside prose", get("term=exists%20or%20not%201%3D1%20scale%20model")},
		{"a sentence about a case", get("q=case%20when%20sale%20ends")},
		{"from and where in prose", get("q=letters%20from%20home%20where%20we%20grew%20up")},
		{"select and union in prose", get("q=select%20a%20plan%20near%20union%20station")},
		{"drop me a line", get("q=drop%20me%20a%20line;%20we%20reply%20fast")},
		{"a quoted symbol", get("q=small%20%22%26%22%20sign")},
		{"a markdown image", jsonPost(`{"body":"see ![](https://img.example/a.png) and 'rock 'n' roll'"}`)},
		{"an IPv6 address", get("ip=fe80::1ff:fe23:4567:890a")},
		{"a GraphQL query with arguments", jsonPost(`{"query":"{ product(id: 5) { reviews(first: 3) { body } } }"}`)},
		{"a version string", get("v=1.e2&build=2024.05")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := p.Inspect(tt.req, nil)
			assert.False(t, foundClass(fs, ClassSQLi), "sqli finding: %v", fs)
		})
	}
}
